"""Protocol library (versioned, clinic-editable data) and session plans.

A plan's doses come from the pharmacology dosing calculator,
``painclinic.pharmacology.calculate_infusion(order)``; this module builds the orders from the
protocol, then re-derives each step's rate and total with plain arithmetic and blocks the plan
if the two disagree (an independent double check, not a second calculator).

Ideal-body-weight steps are converted here to absolute doses (mg, mg/h) using the protocol
file's IBW formula (Foo 2021 summaries [S2]) so that the weight used is the one the protocol
cites; the calculator then receives ``weight_basis: "actual"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from painclinic.clinical._validate import (
    as_int,
    as_list,
    as_mapping,
    as_number,
    as_str,
    check_keys,
    join,
)
from painclinic.clinical.conditions import check_sources
from painclinic.clinical.errors import ClinicalInputError
from painclinic.clinical.policy import load_policy

DRUGS = ("ketamine", "lidocaine")
DOSE_UNITS = ("mg/kg/h", "mg/h", "mcg/kg/min", "mg/kg", "mg")
WEIGHT_BASES = ("actual", "ideal")
SEXES = ("female", "male")
#: Where a protocol is given: an outpatient clinic, or only to admitted patients. A clinic
#: configured without an inpatient service is offered the outpatient protocols only.
SETTINGS = ("outpatient", "inpatient")
STATUS_ORDER = ("within", "soft_limit", "hard_limit")

Calculator = Callable[[dict[str, Any]], Any]


class DosingCalculatorUnavailable(RuntimeError):
    """A caller-supplied dosing calculator could not be used.

    :func:`default_calculator` never raises it (the pharmacology core is always present); it
    remains for callers that catch it around :func:`plan`.
    """


@dataclass(frozen=True)
class Step:
    label: str
    dose_value: float
    dose_unit: str
    duration_min: float
    weight_basis: str
    max_rate_mg_per_h: float | None
    max_total_mg: float | None


@dataclass(frozen=True)
class Cadence:
    id: str
    phases: tuple[tuple[float | None, float], ...]  # (until_min or None, every_min)
    checks: tuple[str, ...]
    sources: tuple[str, ...]
    note: str

    def times(self, duration_min: float) -> tuple[float, ...]:
        """Observation times from the start (0) to the end of an infusion, inclusive."""
        out = [0.0]
        t = 0.0
        while True:
            every = next(e for until, e in self.phases if until is None or t < until)
            t += every
            if t >= duration_min:
                break
            out.append(t)
        out.append(float(duration_min))
        return tuple(out)


@dataclass(frozen=True)
class Protocol:
    id: str
    drug: str
    title: str
    indications: tuple[str, ...]
    sources: tuple[str, ...]
    steps: tuple[Step, ...]
    sessions: int
    allowed_sessions: tuple[int, ...]
    interval_days: float
    concentration_mg_per_ml: float
    pump_precision_ml_per_h: float
    cadence: Cadence
    min_weight_kg: float | None
    order_chunk_min: float | None
    raw: Mapping[str, Any] = field(repr=False)
    setting: str = "outpatient"

    def order_steps(self) -> tuple[Step, ...]:
        """Steps as sent to the calculator: rate steps longer than ``order_chunk_min`` are
        split into successive orders of at most that length."""
        if self.order_chunk_min is None:
            return self.steps
        out: list[Step] = []
        for step in self.steps:
            if step.duration_min <= self.order_chunk_min:
                out.append(step)
                continue
            parts = int(-(-step.duration_min // self.order_chunk_min))
            remaining = step.duration_min
            for k in range(parts):
                length = min(self.order_chunk_min, remaining)
                remaining -= length
                out.append(
                    Step(
                        f"{step.label} (part {k + 1}/{parts})",
                        step.dose_value,
                        step.dose_unit,
                        length,
                        step.weight_basis,
                        step.max_rate_mg_per_h,
                        step.max_total_mg,
                    )
                )
        return tuple(out)

    @property
    def session_duration_min(self) -> float:
        return sum(s.duration_min for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.raw.items()}
        data["id"] = self.id
        data["session_duration_min"] = self.session_duration_min
        data["observation_cadence"] = {
            "id": self.cadence.id,
            "phases": [{"until_min": u, "every_min": e} for u, e in self.cadence.phases],
            "checks": list(self.cadence.checks),
            "sources": list(self.cadence.sources),
            "note": self.cadence.note,
            "times_min": list(self.cadence.times(self.session_duration_min))
            if self.session_duration_min <= 24 * 60
            else None,
        }
        return data


@dataclass(frozen=True)
class ProtocolLibrary:
    version: str
    ibw_male_offset_cm: float
    ibw_female_offset_cm: float
    ibw_sources: tuple[str, ...]
    protocols: Mapping[str, Protocol]

    def get(self, protocol_id: str) -> Protocol:
        try:
            return self.protocols[protocol_id]
        except KeyError:
            raise ClinicalInputError(
                "protocol_id", f"unknown protocol {protocol_id!r} (known: {sorted(self.protocols)})"
            ) from None


def _opt(value: object, path: str) -> float | None:
    return None if value is None else as_number(value, path, lo=0)


def _cadence(cid: str, value: object, path: str) -> Cadence:
    data = as_mapping(value, path)
    check_keys(data, path, ["phases", "checks", "sources", "note"])
    phases = []
    for i, ph in enumerate(as_list(data["phases"], join(path, "phases"))):
        ppath = join(join(path, "phases"), i)
        pm = as_mapping(ph, ppath)
        check_keys(pm, ppath, ["until_min", "every_min"])
        phases.append(
            (_opt(pm["until_min"], join(ppath, "until_min")),
             as_number(pm["every_min"], join(ppath, "every_min"), lo=1))
        )  # fmt: skip
    if not phases or phases[-1][0] is not None:
        raise ClinicalInputError(join(path, "phases"), "last phase must have until_min null")
    return Cadence(
        cid,
        tuple(phases),
        tuple(as_str(c, join(join(path, "checks"), i)) for i, c in enumerate(data["checks"])),
        check_sources(data["sources"], join(path, "sources")),
        as_str(data["note"], join(path, "note")),
    )


PROTOCOL_KEYS = (
    "drug",
    "title",
    "indications",
    "sources",
    "steps",
    "schedule",
    "bag",
    "pump_precision_ml_per_h",
    "observation_cadence",
    "monitoring",
    "premedication",
    "rescue_medication",
    "discharge_criteria",
    "min_weight_kg",
    "notes",
    "order_chunk_min",
)
RATE_UNITS = ("mg/kg/h", "mg/h", "mcg/kg/min")


def _protocol(pid: str, value: object, cadences: Mapping[str, Cadence]) -> Protocol:
    path = join("protocols", pid)
    data = as_mapping(value, path)
    check_keys(data, path, PROTOCOL_KEYS, ["setting"])
    steps = []
    for i, raw in enumerate(as_list(data["steps"], join(path, "steps"))):
        spath = join(join(path, "steps"), i)
        sm = as_mapping(raw, spath)
        check_keys(
            sm,
            spath,
            ["label", "dose", "duration_min", "weight_basis", "max_rate_mg_per_h", "max_total_mg"],
        )
        dose = as_mapping(sm["dose"], join(spath, "dose"))
        check_keys(dose, join(spath, "dose"), ["value", "unit"])
        steps.append(
            Step(
                as_str(sm["label"], join(spath, "label")),
                as_number(dose["value"], join(spath, "dose.value"), lo=0),
                as_str(dose["unit"], join(spath, "dose.unit"), DOSE_UNITS),
                as_number(sm["duration_min"], join(spath, "duration_min"), lo=1),
                as_str(sm["weight_basis"], join(spath, "weight_basis"), WEIGHT_BASES),
                _opt(sm["max_rate_mg_per_h"], join(spath, "max_rate_mg_per_h")),
                _opt(sm["max_total_mg"], join(spath, "max_total_mg")),
            )
        )
    if not steps:
        raise ClinicalInputError(join(path, "steps"), "a protocol needs at least one step")
    sched = as_mapping(data["schedule"], join(path, "schedule"))
    check_keys(
        sched,
        join(path, "schedule"),
        ["sessions", "allowed_sessions", "interval_days", "sources", "note"],
    )
    check_sources(sched["sources"], join(path, "schedule.sources"))
    allowed = tuple(
        as_int(n, join(path, f"schedule.allowed_sessions[{i}]"), 1, 100)
        for i, n in enumerate(as_list(sched["allowed_sessions"], join(path, "schedule")))
    )
    sessions = as_int(sched["sessions"], join(path, "schedule.sessions"), 1, 100)
    if sessions not in allowed:
        raise ClinicalInputError(join(path, "schedule.sessions"), "must be in allowed_sessions")
    bag = as_mapping(data["bag"], join(path, "bag"))
    check_keys(bag, join(path, "bag"), ["concentration_mg_per_ml", "sources", "note"])
    check_sources(bag["sources"], join(path, "bag.sources"))
    for key in ("premedication", "rescue_medication", "discharge_criteria"):
        for i, item in enumerate(as_list(data[key], join(path, key))):
            ipath = join(join(path, key), i)
            check_sources(as_mapping(item, ipath).get("sources"), join(ipath, "sources"))
    monitoring = as_mapping(data["monitoring"], join(path, "monitoring"))
    check_sources(monitoring.get("sources"), join(path, "monitoring.sources"))
    cadence_id = as_str(data["observation_cadence"], join(path, "observation_cadence"), cadences)
    chunk: float | None = None
    if data["order_chunk_min"] is not None:
        cpath = join(path, "order_chunk_min")
        cm = as_mapping(data["order_chunk_min"], cpath)
        check_keys(cm, cpath, ["value", "sources", "note"])
        check_sources(cm["sources"], join(cpath, "sources"))
        chunk = as_number(cm["value"], join(cpath, "value"), lo=1)
        for i, st in enumerate(steps):
            if st.duration_min > chunk and (st.dose_unit not in RATE_UNITS or st.max_total_mg):
                raise ClinicalInputError(
                    join(path, f"steps[{i}]"),
                    "only rate steps without max_total_mg can be split into orders",
                )
    return Protocol(
        id=pid,
        drug=as_str(data["drug"], join(path, "drug"), DRUGS),
        title=as_str(data["title"], join(path, "title")),
        indications=tuple(as_list(data["indications"], join(path, "indications"))),
        sources=check_sources(data["sources"], join(path, "sources")),
        steps=tuple(steps),
        sessions=sessions,
        allowed_sessions=allowed,
        interval_days=as_number(sched["interval_days"], join(path, "schedule.interval_days"), 0),
        concentration_mg_per_ml=as_number(
            bag["concentration_mg_per_ml"], join(path, "bag.concentration_mg_per_ml"), lo=0.001
        ),
        pump_precision_ml_per_h=as_number(
            data["pump_precision_ml_per_h"], join(path, "pump_precision_ml_per_h"), lo=0.001
        ),
        cadence=cadences[cadence_id],
        min_weight_kg=_opt(data["min_weight_kg"], join(path, "min_weight_kg")),
        order_chunk_min=chunk,
        raw=dict(data),
        setting=as_str(data.get("setting", "outpatient"), join(path, "setting"), SETTINGS),
    )


def load_protocols(policy_dir: str | Path | None = None) -> ProtocolLibrary:
    raw = load_policy("protocols.json", policy_dir)
    check_keys(
        raw,
        "",
        ["version", "ideal_body_weight", "observation_cadences", "protocols", "_origin"],
        ["description"],
    )
    ibw = as_mapping(raw["ideal_body_weight"], "ideal_body_weight")
    check_keys(
        ibw,
        "ideal_body_weight",
        ["formula", "male_offset_cm", "female_offset_cm", "sources", "note"],
    )
    cadences = {
        cid: _cadence(cid, value, join("observation_cadences", cid))
        for cid, value in as_mapping(raw["observation_cadences"], "observation_cadences").items()
    }
    protocols = {
        pid: _protocol(pid, value, cadences)
        for pid, value in as_mapping(raw["protocols"], "protocols").items()
    }
    return ProtocolLibrary(
        version=raw["version"],
        ibw_male_offset_cm=as_number(ibw["male_offset_cm"], "ideal_body_weight.male_offset_cm"),
        ibw_female_offset_cm=as_number(
            ibw["female_offset_cm"], "ideal_body_weight.female_offset_cm"
        ),
        ibw_sources=check_sources(ibw["sources"], "ideal_body_weight.sources"),
        protocols=protocols,
    )


def offered_protocols(library: ProtocolLibrary, *, inpatient_service: bool) -> tuple[Protocol, ...]:
    """The protocols a clinic may plan: every one with an inpatient service, else the
    outpatient ones only (an inpatient-only protocol is never offered to an outpatient clinic)."""
    return tuple(
        p for p in library.protocols.values() if inpatient_service or p.setting == "outpatient"
    )


# --- planning -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanStep:
    label: str
    start_min: float
    duration_min: float
    order: Mapping[str, Any]
    calculation: Mapping[str, Any]
    rate_mg_per_h: float
    rate_ml_per_h: float
    total_mg: float
    status: str
    expected_rate_mg_per_h: float
    expected_total_mg: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "start_min": self.start_min,
            "duration_min": self.duration_min,
            "rate_mg_per_h": self.rate_mg_per_h,
            "rate_ml_per_h": self.rate_ml_per_h,
            "total_mg": self.total_mg,
            "status": self.status,
            "check": {
                "expected_rate_mg_per_h": self.expected_rate_mg_per_h,
                "expected_total_mg": self.expected_total_mg,
            },
            "order": dict(self.order),
            "calculation": dict(self.calculation),
        }


@dataclass(frozen=True)
class PlannedSession:
    number: int
    day: float
    steps: tuple[PlanStep, ...]
    total_mg: float
    observation_times_min: tuple[float, ...] | None
    #: The whole session against the drug library (``SessionLimitResult.to_dict()``).
    session_limits: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "day": self.day,
            "total_mg": self.total_mg,
            "session_limits": None if self.session_limits is None else dict(self.session_limits),
            "steps": [s.to_dict() for s in self.steps],
            "observation_times_min": None
            if self.observation_times_min is None
            else list(self.observation_times_min),
        }


@dataclass(frozen=True)
class ProtocolPlan:
    protocol_id: str
    protocol_version: str
    drug: str
    patient: Mapping[str, Any]
    dosing_weight_kg: float
    dosing_weight_basis: str
    sessions: tuple[PlannedSession, ...]
    status: str
    blocked: bool
    warnings: tuple[str, ...]
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol_id": self.protocol_id,
            "protocol_version": self.protocol_version,
            "drug": self.drug,
            "patient": dict(self.patient),
            "dosing_weight_kg": self.dosing_weight_kg,
            "dosing_weight_basis": self.dosing_weight_basis,
            "status": self.status,
            "blocked": self.blocked,
            "warnings": list(self.warnings),
            "sources": list(self.sources),
            "sessions": [s.to_dict() for s in self.sessions],
        }


def _patient(raw: Mapping[str, Any]) -> dict[str, Any]:
    data = as_mapping(raw, "patient")
    check_keys(data, "patient", ["weight_kg"], ["height_cm", "sex"])
    out: dict[str, Any] = {"weight_kg": as_number(data["weight_kg"], "weight_kg", lo=1, hi=400)}
    if data.get("height_cm") is not None:
        out["height_cm"] = as_number(data["height_cm"], "height_cm", lo=50, hi=260)
    if data.get("sex") is not None:
        out["sex"] = as_str(data["sex"], "sex", SEXES)
    return out


def ideal_body_weight_kg(patient: Mapping[str, Any], library: ProtocolLibrary) -> float:
    """IBW = height (cm) - 100 (male) or - 105 (female) [S2, Foo 2021 summaries]."""
    if "height_cm" not in patient:
        raise ClinicalInputError("height_cm", "needed for an ideal-body-weight protocol")
    if "sex" not in patient:
        raise ClinicalInputError("sex", "needed for an ideal-body-weight protocol")
    offset = (
        library.ibw_male_offset_cm if patient["sex"] == "male" else library.ibw_female_offset_cm
    )
    ibw = float(patient["height_cm"]) - offset
    if ibw <= 0:
        raise ClinicalInputError("height_cm", "too short for the ideal-body-weight formula")
    return ibw


def _resolve_dose(step: Step, ibw: float | None) -> tuple[float, str]:
    """Absolute dose for IBW steps; weight-based steps on actual weight pass through."""
    if step.weight_basis == "actual" or ibw is None:
        return step.dose_value, step.dose_unit
    if step.dose_unit == "mg/kg":
        return step.dose_value * ibw, "mg"
    if step.dose_unit == "mg/kg/h":
        return step.dose_value * ibw, "mg/h"
    if step.dose_unit == "mcg/kg/min":
        return step.dose_value * ibw * 60 / 1000, "mg/h"
    return step.dose_value, step.dose_unit


def expected_dose(value: float, unit: str, weight_kg: float, step: Step) -> tuple[float, float]:
    """Plain-arithmetic (rate mg/h, total mg) for a step, with the protocol's caps."""
    hours = step.duration_min / 60
    if unit in ("mg/kg/h", "mg/h", "mcg/kg/min"):
        rate = {
            "mg/kg/h": value * weight_kg,
            "mg/h": value,
            "mcg/kg/min": value * weight_kg * 60 / 1000,
        }[unit]
        if step.max_rate_mg_per_h is not None:
            rate = min(rate, step.max_rate_mg_per_h)
        total = rate * hours
        if step.max_total_mg is not None and total > step.max_total_mg:
            total = step.max_total_mg
            rate = total / hours
        return rate, total
    total = value * weight_kg if unit == "mg/kg" else value
    if step.max_total_mg is not None:
        total = min(total, step.max_total_mg)
    rate = total / hours
    if step.max_rate_mg_per_h is not None and rate > step.max_rate_mg_per_h:
        rate = step.max_rate_mg_per_h
        total = rate * hours
    return rate, total


DAY_MIN = 24 * 60


def prior_24h_mg(
    delivered: list[tuple[float, float, float]],
    start_min: float,
    duration_min: float,
    rate_mg_per_h: float,
) -> float:
    """Prior amount to declare so that prior + this step's 24-h share equals the largest
    amount delivered in any rolling 24-h window ending during this step.

    ``delivered`` holds (start_min, end_min, mg) of earlier steps, each at a constant rate.
    Daily 4-h sessions therefore do not count the previous day's session, which has left the
    window by the time this one ends; back-to-back steps do count.
    """
    end = start_min + duration_min
    candidates = {start_min, end}
    for a, b, _ in delivered:
        candidates.update(t for t in (a + DAY_MIN, b + DAY_MIN) if start_min <= t <= end)
    best = 0.0
    for t in candidates:
        lo = t - DAY_MIN
        earlier = sum(
            mg * max(0.0, min(b, t) - max(a, lo)) / (b - a) for a, b, mg in delivered if b > a
        )
        current = rate_mg_per_h * (t - max(start_min, lo)) / 60
        best = max(best, earlier + current)
    own_share = rate_mg_per_h * min(duration_min, DAY_MIN) / 60
    return max(0.0, best - own_share)


def _group_notes(notes: list[tuple[str, str]]) -> list[str]:
    """One line per distinct message, naming the steps it applies to (first-seen order)."""
    grouped: dict[str, list[str]] = {}
    for label, message in notes:
        grouped.setdefault(message, []).append(label)
    lines = []
    for message, labels in grouped.items():
        where = labels[0] if len(labels) == 1 else f"{labels[0]} and {len(labels) - 1} more"
        lines.append(f"{where}: {message}")
    return lines


def default_calculator() -> Calculator:
    """The pharmacology core's dosing calculator, ``painclinic.pharmacology.calculate_infusion``.

    Imported on first use, so that importing the clinical rules does not load NumPy.
    """
    from painclinic.pharmacology import calculate_infusion

    return calculate_infusion


def _calc_value(result: Any, name: str) -> Any:
    if isinstance(result, Mapping):
        return result[name]
    return getattr(result, name)


def _session_limits(
    protocol: Protocol,
    pt: Mapping[str, Any],
    steps: list[PlanStep],
    delivered: list[tuple[float, float, float]],
    session_start: float,
) -> Any:
    """The whole session (every step, the loading dose included) against the drug library,
    with earlier sessions' doses in the rolling 24 hours: ``pharmacology.evaluate_session``."""
    from painclinic.pharmacology import (
        SESSION_QUANTITIES,
        SessionStep,
        evaluate_session,
        load_drug_library,
        parse_patient,
    )

    library = load_drug_library()
    entry = library.drug(protocol.drug)
    session_steps = [
        SessionStep(
            s.start_min,
            s.duration_min,
            s.total_mg,
            bolus=str(s.order["dose"]["unit"]) in ("mg", "mg/kg")
            and s.duration_min <= entry.bolus_max_duration_min,
            label=s.label,
        )
        for s in steps
    ]
    own = len(steps)
    earlier = [
        SessionStep(a - session_start, b - a, mg)
        for a, b, mg in delivered[: len(delivered) - own]
        if b > a and b > session_start - DAY_MIN
    ]
    return evaluate_session(
        library,
        protocol.drug,
        parse_patient(dict(pt)),
        session_steps,
        setting=protocol.setting,
        earlier=earlier,
        # The steps' own limits (weight, rate, bolus) were checked order by order.
        quantities=SESSION_QUANTITIES,
    )


def plan(
    protocol_id: str,
    patient: Mapping[str, Any],
    *,
    sessions: int | None = None,
    library: ProtocolLibrary | None = None,
    calculator: Calculator | None = None,
    policy_dir: str | Path | None = None,
) -> ProtocolPlan:
    """Session schedule and per-session dose plan for one patient.

    Each step is sent to the dosing calculator as an order; ``prior_24h_mg`` counts what
    earlier steps and sessions delivered in the 24 h before the step starts. The plan is
    ``blocked`` if any step hits a hard limit or the calculator disagrees with the protocol
    arithmetic by more than one pump increment (or 1%).
    """
    library = library or load_protocols(policy_dir)
    protocol = library.get(protocol_id)
    pt = _patient(patient)
    n_sessions = protocol.sessions if sessions is None else as_int(sessions, "sessions", 1, 100)
    if n_sessions not in protocol.allowed_sessions:
        raise ClinicalInputError(
            "sessions", f"{protocol.id} allows {list(protocol.allowed_sessions)} sessions"
        )
    notes: list[tuple[str, str]] = []  # (step label, message), grouped at the end
    if protocol.min_weight_kg is not None and pt["weight_kg"] < protocol.min_weight_kg:
        raise ClinicalInputError(
            "weight_kg",
            f"{pt['weight_kg']:g} kg is below the protocol minimum of "
            f"{protocol.min_weight_kg:g} kg",
        )
    uses_ibw = any(s.weight_basis == "ideal" for s in protocol.steps)
    ibw = ideal_body_weight_kg(pt, library) if uses_ibw else None
    calc = calculator or default_calculator()
    conc = protocol.concentration_mg_per_ml

    # (start_min_absolute, end_min_absolute, mg) of every step so far, for prior_24h_mg
    delivered: list[tuple[float, float, float]] = []
    planned: list[PlannedSession] = []
    statuses: list[str] = []
    blocked = False
    for index in range(n_sessions):
        day = index * protocol.interval_days
        session_start = day * 24 * 60
        offset = 0.0
        steps: list[PlanStep] = []
        for s_index, step in enumerate(protocol.order_steps()):
            start = session_start + offset
            value, unit = _resolve_dose(step, ibw)
            exp_rate, exp_total = expected_dose(value, unit, pt["weight_kg"], step)
            prior = prior_24h_mg(delivered, start, step.duration_min, exp_rate)
            order: dict[str, Any] = {
                "drug": protocol.drug,
                "patient": dict(pt),
                "dose": {"value": value, "unit": unit},
                "duration_min": step.duration_min,
                "weight_basis": "actual",
                "weight_cap_kg": None,
                "max_rate_mg_per_h": step.max_rate_mg_per_h,
                "max_total_mg": step.max_total_mg,
                "bag": {"concentration_mg_per_ml": conc},
                "pump_precision_ml_per_h": protocol.pump_precision_ml_per_h,
                "prior_24h_mg": round(prior, 3),
                # One step of the session: the session's own limits are checked below on
                # all its steps together (pharmacology.evaluate_session).
                "scope": "step",
                "setting": protocol.setting,
                "session_duration_min": protocol.session_duration_min,
            }
            try:
                result = calc(order)
            except ValueError as exc:
                raise ClinicalInputError(
                    f"{protocol.id}.steps[{s_index}]", f"dosing calculator refused: {exc}"
                ) from exc
            rate = float(_calc_value(result, "rate_mg_per_h"))
            rate_ml = float(_calc_value(result, "rate_ml_per_h"))
            total = float(_calc_value(result, "total_mg"))
            status = str(_calc_value(result, "status"))
            details = result.to_dict() if hasattr(result, "to_dict") else dict(result)
            hours = step.duration_min / 60
            tol_rate = max(0.01 * exp_rate, protocol.pump_precision_ml_per_h * conc * 1.001)
            tol_total = max(0.01 * exp_total, tol_rate * hours)
            label = f"session {index + 1} {step.label}"
            if abs(rate - exp_rate) > tol_rate or abs(total - exp_total) > tol_total:
                blocked = True
                notes.append(
                    (
                        label,
                        f"calculator gives {rate:g} mg/h, {total:g} mg but the protocol "
                        f"arithmetic gives {exp_rate:g} mg/h, {exp_total:g} mg - plan blocked",
                    )
                )
            if status == "hard_limit":
                blocked = True
                notes.append((label, "hard limit - plan blocked"))
            elif status == "soft_limit":
                notes.append((label, "soft limit - needs a reason and a second clinician"))
            for w in _calc_value(result, "warnings") or ():
                notes.append((label, str(w)))
            statuses.append(status)
            steps.append(
                PlanStep(
                    step.label,
                    offset,
                    step.duration_min,
                    order,
                    details,
                    rate,
                    rate_ml,
                    total,
                    status,
                    round(exp_rate, 4),
                    round(exp_total, 4),
                )
            )
            delivered.append((start, start + step.duration_min, total))
            offset += step.duration_min
        times = (
            protocol.cadence.times(offset) if offset <= 24 * 60 else None
        )  # multi-day: cadence phases only
        session_limits = _session_limits(protocol, pt, steps, delivered, session_start)
        status = str(session_limits.status)
        statuses.append(status)
        label = f"session {index + 1} (whole session)"
        if status == "hard_limit":
            blocked = True
            notes.append((label, "hard limit - plan blocked"))
        elif status == "soft_limit":
            notes.append((label, "soft limit - needs a reason and a second clinician"))
        for check in session_limits.breaches:
            notes.append((label, check.message()))
        for w in session_limits.warnings:
            notes.append(("plan", w))
        planned.append(
            PlannedSession(
                index + 1,
                day,
                tuple(steps),
                sum(s.total_mg for s in steps),
                times,
                session_limits.to_dict(),
            )
        )
    warnings = _group_notes(notes)
    if protocol.session_duration_min > 24 * 60:
        warnings.append(
            "observation times not listed for an infusion over 24 h: follow the cadence phases "
            f"of '{protocol.cadence.id}'"
        )
    worst = max(statuses, key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else 2)
    sources = protocol.sources + (library.ibw_sources if uses_ibw else ())
    return ProtocolPlan(
        protocol_id=protocol.id,
        protocol_version=library.version,
        drug=protocol.drug,
        patient=pt,
        dosing_weight_kg=ibw if ibw is not None else pt["weight_kg"],
        dosing_weight_basis="ideal" if uses_ibw else "actual",
        sessions=tuple(planned),
        status=worst,
        blocked=blocked,
        warnings=tuple(warnings),
        sources=tuple(dict.fromkeys(sources)),
    )
