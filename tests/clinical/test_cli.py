"""`painclinic assess | eligibility | monitor | outcome | protocol`: JSON in, JSON out, exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from painclinic.cli import clinical as cli_clinical
from painclinic.clinical.eligibility import facts_template
from painclinic.clinical.instruments import INSTRUMENTS, template

app = typer.Typer()
cli_clinical.register(app)
runner = CliRunner()


def run(*args: str, stdin: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=stdin)


def write(tmp_path: Path, data: Any, name: str = "in.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("name", sorted(INSTRUMENTS))
def test_template_is_exactly_the_skeleton(name: str) -> None:
    result = run("assess", name, "--template")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == template(name).skeleton


def test_phq9_template_exact() -> None:
    assert json.loads(run("assess", "phq9", "--template").stdout) == {"items": [0] * 9}


def test_assess_scores_a_file(tmp_path: Path) -> None:
    result = run("assess", "phq9", write(tmp_path, {"items": [1, 1, 1, 1, 1, 1, 1, 1, 1]}))
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert set(out) == {"instrument", "score", "band", "met", "flags", "reasons"}
    assert out["score"] == 9 and out["band"] == "mild" and out["flags"] == ["self_harm_risk"]


def test_assess_reads_stdin() -> None:
    result = run("assess", "nrs", "-", stdin='{"score": 7}')
    assert result.exit_code == 0 and json.loads(result.stdout)["score"] == 7


def test_assess_describe_has_sources_and_licence() -> None:
    out = json.loads(run("assess", "bpi", "--describe").stdout)
    assert out["sources"] and "COPYRIGHT" in out["licence"].upper()


def test_bad_item_exits_2_and_names_it(tmp_path: Path) -> None:
    items = [0] * 9
    items[8] = 5
    result = run("assess", "phq9", write(tmp_path, {"items": items}))
    assert result.exit_code == 2
    assert "items[8]" in result.stderr


def test_nested_bad_item(tmp_path: Path) -> None:
    answers = json.loads(json.dumps(template("budapest").skeleton))
    answers["symptoms"]["vasomotor"]["temperature_asymmetry"] = "yes"
    result = run("assess", "budapest", write(tmp_path, answers))
    assert result.exit_code == 2
    assert "symptoms.vasomotor.temperature_asymmetry" in result.stderr


def test_unknown_instrument_exits_2() -> None:
    result = run("assess", "nope", "--template")
    assert result.exit_code == 2 and "instrument" in result.stderr


def test_invalid_json_and_missing_file_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert run("assess", "nrs", str(bad)).exit_code == 2
    assert run("assess", "nrs", str(tmp_path / "missing.json")).exit_code == 2
    assert run("assess", "nrs").exit_code == 2


def test_eligibility(tmp_path: Path) -> None:
    facts = facts_template()
    facts.update(age_years=40, weight_kg=70, pregnancy="not_pregnant")
    result = run("eligibility", write(tmp_path, facts))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["ketamine"]["status"] in {"eligible", "eligible_with_cautions", "not_eligible"}
    assert "lidocaine" in out


def test_eligibility_template_and_bad_facts(tmp_path: Path) -> None:
    assert json.loads(run("eligibility", "--template").stdout) == facts_template()
    facts = facts_template()
    facts["comorbidities"]["gout"] = True
    result = run("eligibility", write(tmp_path, facts))
    assert result.exit_code == 2 and "comorbidities.gout" in result.stderr


def test_monitor(tmp_path: Path) -> None:
    obs = write(tmp_path, {"heart_rate_bpm": 160, "symptoms": []})
    result = run("monitor", obs, "--drug", "ketamine")
    assert result.exit_code == 0 and json.loads(result.stdout)["action"] == "pause"
    bad = run("monitor", obs, "--drug", "propofol")
    assert bad.exit_code == 2 and "infusion.drug" in bad.stderr


def test_monitor_against_the_patients_own_baseline(tmp_path: Path) -> None:
    """Systolic 157 is within the absolute limits but 21% over a baseline of 130 (the clinic's
    20% rule reduces the rate); without --baseline the rule cannot fire and says so."""
    obs = write(
        tmp_path,
        {
            "systolic_bp_mmhg": 157,
            "diastolic_bp_mmhg": 80,
            "heart_rate_bpm": 72,
            "spo2_percent": 98,
            "respiratory_rate_per_min": 14,
            "rass": 0,
            "symptoms": [],
        },
    )
    baseline = tmp_path / "baseline.json"
    baseline.write_text(
        json.dumps({"systolic_bp_mmhg": 130, "diastolic_bp_mmhg": 80, "heart_rate_bpm": 70})
    )
    with_baseline = run("monitor", obs, "--drug", "ketamine", "--baseline", str(baseline))
    assert with_baseline.exit_code == 0, with_baseline.output
    decided = json.loads(with_baseline.stdout)
    assert decided["action"] == "reduce_rate" and decided["baseline_used"] is True
    without = json.loads(run("monitor", obs, "--drug", "ketamine").stdout)
    assert without["action"] == "continue" and without["baseline_used"] is False
    bad = run("monitor", obs, "--drug", "ketamine", "--baseline", str(tmp_path / "none.json"))
    assert bad.exit_code == 2 and "BASELINE" in bad.stderr


def test_outcome(tmp_path: Path) -> None:
    history = {
        "trials": [
            {
                "drug": "ketamine",
                "total_dose_mg": 100,
                "duration_h": 4,
                "baseline_nrs": 8,
                "followups": [{"day": 7, "nrs": 7, "pgic": 4}],
            }
        ]
    }
    result = run("outcome", write(tmp_path, history))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["recommendation"]["recommendation"] == "lidocaine_trial"


def test_protocol_list_and_show() -> None:
    listed = json.loads(run("protocol", "list").stdout)
    ids = {p["id"] for p in listed["protocols"]}
    assert "ket-crps-outpatient" in ids and listed["version"]
    shown = run("protocol", "show", "lid-5mgkg-60min")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["sources"]
    assert run("protocol", "show", "nope").exit_code == 2


def test_protocol_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.clinical.test_protocols import stand_in_calculator

    monkeypatch.setattr(
        "painclinic.clinical.protocols.default_calculator", lambda: stand_in_calculator
    )
    result = run("protocol", "plan", "ket-crps-outpatient", "--weight-kg", "80")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert len(out["sessions"]) == 10
    assert out["sessions"][0]["steps"][0]["rate_mg_per_h"] == pytest.approx(25)
    ibw = run(
        "protocol",
        "plan",
        "lid-1.5mgkg-ibw",
        "--weight-kg",
        "70",
        "--height-cm",
        "170",
        "--sex",
        "female",
    )
    assert ibw.exit_code == 0 and json.loads(ibw.stdout)["dosing_weight_kg"] == 65
    bad = run("protocol", "plan", "lid-1.5mgkg-ibw", "--weight-kg", "70")
    assert bad.exit_code == 2 and "height_cm" in bad.stderr
