"""`painclinic assess | eligibility | monitor | outcome | protocol ...`: JSON in, JSON out.

Bad input (unreadable, non-UTF-8 or malformed JSON, a number that is not finite or out of
range, a wrong JSON type, an item the rules reject) exits with status 2 and one line naming the
file or the offending item. ``protocol plan`` exits with status 1 when the dosing calculator is
unavailable.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from painclinic.cli._io import emit_json, read_json, refuse, reported, source_name
from painclinic.clinical import ClinicalInputError
from painclinic.clinical.protocols import DosingCalculatorUnavailable

protocol_app = typer.Typer(
    help="Infusion protocol library: list, show, plan.", no_args_is_help=True
)

POLICY_DIR_HELP = "directory with clinic copies of the policy JSON files"
POLICY_DIR = typer.Option(None, "--policy-dir", help=POLICY_DIR_HELP)


def _run(fn: Callable[[], Any], what: str = "input") -> None:
    """Call the core, print its answer as JSON; bad input exits 2, a missing calculator 1."""
    try:
        with reported(what, ClinicalInputError):
            result = fn()
    except DosingCalculatorUnavailable as exc:
        refuse(str(exc))
    emit_json(result)


def _named(what: str, path: str | None) -> str:
    return what if path is None else f"{what} in {source_name(path)}"


def assess(
    instrument: str = typer.Argument(..., help="instrument name, e.g. phq9, budapest, acr2016"),
    answers: str | None = typer.Argument(None, help="answers JSON file ('-' for stdin)"),
    template: bool = typer.Option(False, "--template", help="print the answer skeleton"),
    describe: bool = typer.Option(
        False, "--describe", help="print items, allowed values, scoring, sources and licence"
    ),
) -> None:
    """Score an instrument from an answers JSON file, or print its answer template."""
    from painclinic.clinical.instruments import get_instrument

    def run() -> Any:
        inst = get_instrument(instrument)
        if template:
            return inst.template().skeleton
        if describe:
            return inst.template().to_dict()
        if answers is None:
            raise ClinicalInputError("ANSWERS", "give an answers JSON file, or --template")
        return inst.score(read_json(answers, "ANSWERS")).to_dict()

    _run(run, _named("ANSWERS", answers))


def eligibility(
    facts: str | None = typer.Argument(None, help="patient facts JSON file ('-' for stdin)"),
    template: bool = typer.Option(False, "--template", help="print a facts skeleton"),
    policy_dir: Path | None = POLICY_DIR,
) -> None:
    """Ketamine and lidocaine eligibility, contraindications, gaps and interactions."""
    from painclinic.clinical.eligibility import assess_eligibility, facts_template

    def run() -> Any:
        if template:
            return facts_template()
        if facts is None:
            raise ClinicalInputError("FACTS", "give a facts JSON file, or --template")
        return assess_eligibility(read_json(facts, "FACTS"), policy_dir=policy_dir).to_dict()

    _run(run, _named("FACTS", facts))


def monitor(
    observation: str = typer.Argument(..., help="observation JSON file ('-' for stdin)"),
    drug: str = typer.Option(..., help="ketamine or lidocaine"),
    rate_mg_per_h: float | None = typer.Option(None, help="current infusion rate, mg/h"),
    baseline: str | None = typer.Option(
        None,
        help='JSON file of the pre-infusion round ({"systolic_bp_mmhg": 120, '
        '"diastolic_bp_mmhg": 75, "heart_rate_bpm": 70}); the rules relative to the '
        "patient's own values need it",
    ),
    phase: str | None = typer.Option(None, help="infusion (default) or recovery"),
    policy_dir: Path | None = POLICY_DIR,
) -> None:
    """Action for one observation during or after an infusion (continue ... emergency)."""
    from painclinic.clinical.monitoring import evaluate_observation

    def run() -> Any:
        infusion: dict[str, Any] = {"drug": drug}
        if rate_mg_per_h is not None:
            infusion["rate_mg_per_h"] = rate_mg_per_h
        if baseline is not None:
            infusion["baseline"] = read_json(baseline, "BASELINE")
        if phase is not None:
            infusion["phase"] = phase
        obs = read_json(observation, "OBSERVATION")
        return evaluate_observation(obs, infusion, policy_dir=policy_dir).to_dict()

    _run(run, _named("OBSERVATION", observation))


def outcome(
    history: str = typer.Argument(..., help="trial history JSON file ('-' for stdin)"),
    policy_dir: Path | None = POLICY_DIR,
) -> None:
    """Responder status, durability and next-step recommendation from a trial history."""
    from painclinic.clinical.outcomes import (
        assess_durability,
        load_responder_policy,
        parse_history,
        recommend,
    )

    def run() -> Any:
        data = read_json(history, "HISTORY")
        policy = load_responder_policy(policy_dir)
        trials = parse_history(data)
        per_trial = [
            {
                "drug": t.drug,
                "durability": assess_durability(
                    t.baseline_nrs,
                    [{"day": f.day, "nrs": f.nrs, "pgic": f.pgic} for f in t.followups],
                    policy,
                ).to_dict(),
            }
            for t in trials
        ]
        return {"trials": per_trial, "recommendation": recommend(data, policy).to_dict()}

    _run(run, _named("HISTORY", history))


@protocol_app.command("list")
def protocol_list(policy_dir: Path | None = POLICY_DIR) -> None:
    """List the protocols in the library."""
    from painclinic.clinical.protocols import load_protocols

    def run() -> Any:
        library = load_protocols(policy_dir)
        return {
            "version": library.version,
            "protocols": [
                {"id": p.id, "drug": p.drug, "title": p.title} for p in library.protocols.values()
            ],
        }

    _run(run)


@protocol_app.command("show")
def protocol_show(
    protocol_id: str = typer.Argument(..., help="protocol id (see 'protocol list')"),
    policy_dir: Path | None = POLICY_DIR,
) -> None:
    """Show one protocol with its cadence, premedication, discharge criteria and citations."""
    from painclinic.clinical.protocols import load_protocols

    _run(lambda: load_protocols(policy_dir).get(protocol_id).to_dict())


@protocol_app.command("plan")
def protocol_plan(
    protocol_id: str = typer.Argument(..., help="protocol id (see 'protocol list')"),
    weight_kg: float = typer.Option(..., help="patient weight in kg (measured today)"),
    height_cm: float | None = typer.Option(None, help="height in cm (ideal-body-weight plans)"),
    sex: str | None = typer.Option(None, help="female or male (ideal-body-weight plans)"),
    sessions: int | None = typer.Option(None, help="number of sessions, if the protocol allows"),
    policy_dir: Path | None = POLICY_DIR,
) -> None:
    """Session schedule and per-session dose plan via the pharmacology dosing calculator."""
    from painclinic.clinical.protocols import load_protocols, plan

    def run() -> Any:
        patient = {"weight_kg": weight_kg, "height_cm": height_cm, "sex": sex}
        library = load_protocols(policy_dir)
        return plan(protocol_id, patient, sessions=sessions, library=library).to_dict()

    _run(run)


def register(app: typer.Typer) -> None:
    """Attach the clinical sub-commands to the main application."""
    app.command("assess")(assess)
    app.command("eligibility")(eligibility)
    app.command("monitor")(monitor)
    app.command("outcome")(outcome)
    app.add_typer(protocol_app, name="protocol")
