"""Infusion-day rules as plain functions: what is wrong with an entry, by field.

Forms call them to put a message on the field; services call them again inside their
transaction and refuse (``Refused``, from ``painclinic.web.lib.service``) if anything is wrong,
so no caller can skip a rule. A dose beyond a drug library hard limit is ``HardLimitRefused``,
carrying the drug, the rate and the limit (audited with those values).
The clinical and dosing decisions come from ``painclinic.clinical`` and
``painclinic.pharmacology``; nothing here re-implements them.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils import timezone

from painclinic.clinical import (
    ClinicalInputError,
    assess_eligibility,
    facts_template,
    load_protocols,
    load_thresholds,
)
from painclinic.clinical.protocols import Cadence, Protocol
from painclinic.pharmacology import (
    InfusionCalculation,
    PharmacologyInputError,
    SessionLimitResult,
    SessionStep,
    calculate_infusion,
    evaluate_session,
    format_dose,
    load_drug_library,
)
from painclinic.pharmacology.druglibrary import DrugEntry
from painclinic.pharmacology.patient import parse_patient
from painclinic.pharmacology.sessionlimits import SESSION_QUANTITIES
from painclinic.web.infusions import policy
from painclinic.web.infusions.models import InfusionSession, PregnancyTest, RateSegment
from painclinic.web.lib.clinicdate import age_in_years
from painclinic.web.lib.service import HardLimitRefused, Refused
from painclinic.web.patients.forms import WEIGHT_MAX_KG, WEIGHT_MIN_KG

__all__ = ["HardLimitRefused", "Refused"]  # re-exported: the service contract's refusals

# Plausible ranges for vital signs typed at the chairside (a typo guard, not clinical limits:
# values inside them may still fire monitoring rules). A blood pressure of 0 is refused.
VITAL_RANGES: dict[str, tuple[int, int, str]] = {
    "systolic_bp_mmhg": (50, 260, "mmHg"),
    "diastolic_bp_mmhg": (20, 160, "mmHg"),
    "heart_rate_bpm": (20, 250, "/min"),
    "respiratory_rate_per_min": (2, 60, "/min"),
    "spo2_percent": (50, 100, "%"),
}
RATE_DOSE_UNITS = ("mg/h", "mg/kg/h")
KETAMINE = "ketamine"


@functools.lru_cache(maxsize=1)
def drug_library() -> Any:
    return load_drug_library()


@functools.lru_cache(maxsize=1)
def protocol_library() -> Any:
    return load_protocols()


@functools.lru_cache(maxsize=1)
def monitoring_thresholds() -> Any:
    return load_thresholds()


def drug_entry(drug: str) -> DrugEntry:
    entry: DrugEntry = drug_library().drug(drug)
    return entry


def protocol_for(session: InfusionSession) -> Protocol | None:
    try:
        protocol: Protocol = protocol_library().get(session.plan.protocol_id)
    except ClinicalInputError:
        return None
    return protocol


def cadence_for(session: InfusionSession) -> Cadence | None:
    protocol = protocol_for(session)
    return protocol.cadence if protocol else None


def plan_setting(session: InfusionSession) -> str:
    """``"outpatient"`` or ``"inpatient"``: the plan's protocol's setting (its 24-hour limits)."""
    protocol = protocol_for(session)
    return protocol.setting if protocol else "outpatient"


def plan_steps(session: InfusionSession) -> list[dict[str, Any]]:
    return list(session.planned_session.steps or [])


def first_step(session: InfusionSession) -> dict[str, Any]:
    steps = plan_steps(session)
    if not steps:
        raise Refused("The planned session has no steps: the physician must re-plan.")
    return steps[0]


def dosing_weight_kg(session: InfusionSession) -> Decimal:
    if session.dosing_weight_kg is not None:
        return Decimal(session.dosing_weight_kg)
    return Decimal(session.plan.dosing_weight_kg)


def fmt(value: Any, unit: str) -> str:
    return format_dose(float(value), unit)


def to_decimal(value: float, places: str) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


# --- times ----------------------------------------------------------------------------------


def time_problem(at: dt.datetime, not_before: dt.datetime | None, what: str) -> str | None:
    """A clinical time may not be in the future nor before the previous charted event."""
    now = timezone.now()
    if at > now + dt.timedelta(seconds=policy.future_tolerance_s()):
        return f"The {what} time is in the future."
    if not_before is not None and at < not_before:
        local = timezone.localtime(not_before)
        return f"The {what} time is before the previous charted event ({local:%Y-%m-%d %H:%M})."
    return None


def is_late(occurred_at: dt.datetime, recorded_at: dt.datetime) -> bool:
    """A late entry: charted more than the clinic's late-entry minutes after its clinical time
    (kept at that time, and marked on the chart and in the summary)."""
    return recorded_at - occurred_at > dt.timedelta(minutes=policy.late_entry_min())


def vitals_problems(data: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    for name, (low, high, unit) in VITAL_RANGES.items():
        value = data.get(name)
        if value is None:
            continue
        if value <= 0:
            problems[name] = f"{value} {unit} is not possible in a patient in the chair."
        elif not low <= value <= high:
            problems[name] = f"{value} {unit} is outside the plausible range {low}-{high} {unit}."
    sbp, dbp = data.get("systolic_bp_mmhg"), data.get("diastolic_bp_mmhg")
    if sbp and dbp and dbp >= sbp and "diastolic_bp_mmhg" not in problems:
        problems["diastolic_bp_mmhg"] = "The diastolic pressure must be below the systolic."
    return problems


# --- checklist ------------------------------------------------------------------------------


def pregnancy_test_required(session: InfusionSession, on: dt.date) -> bool:
    patient = session.patient
    low, high = policy.pregnancy_test_ages()
    return (
        patient.sex_at_birth == "female" and low <= age_in_years(patient.date_of_birth, on) <= high
    )


def weight_in_range(weight: Any) -> bool:
    """A checklist weight within registration's bounds (20-300 kg)."""
    if weight is None:
        return False
    try:
        value = Decimal(str(weight))
    except ArithmeticError:
        return False
    return value.is_finite() and WEIGHT_MIN_KG <= value <= WEIGHT_MAX_KG


def rescreen(session: InfusionSession, data: Mapping[str, Any], on: dt.date) -> dict[str, Any]:
    """Re-run the eligibility rules that today's facts can decide (vitals, pregnancy, weight,
    age) for the plan's drug; other facts are left neutral so only these can fire."""
    facts = facts_template()
    facts["age_years"] = age_in_years(session.patient.date_of_birth, on)
    if weight_in_range(data.get("weight_kg")):
        facts["weight_kg"] = float(data["weight_kg"])
    for name in VITAL_RANGES:
        if data.get(name) is not None:
            facts["vitals"][name] = float(data[name])
    test = data.get("pregnancy_test")
    pregnancy: dict[str, str] = {
        PregnancyTest.POSITIVE: "pregnant",
        PregnancyTest.NEGATIVE: "not_pregnant",
    }
    facts["pregnancy"] = pregnancy.get(str(test), "not_applicable")
    result = assess_eligibility(facts)
    drug = getattr(result, session.plan.drug)
    return {
        "drug": session.plan.drug,
        "absolute": [r.to_dict() for r in drug.absolute_contraindications],
        "relative": [r.to_dict() for r in drug.relative_contraindications],
        "policy_versions": dict(result.policy_versions),
    }


def checklist_problems(
    session: InfusionSession, data: Mapping[str, Any], now: dt.datetime
) -> tuple[dict[str, str], dict[str, Any] | None]:
    """Field problems of a checklist, and the re-screen result when the vitals were usable."""
    problems = vitals_problems(data)
    today = timezone.localdate(now)
    solids_h, fluids_h = policy.fasting_hours()
    for name, need, what in (
        ("last_solids_at", solids_h, "solid food"),
        ("last_clear_fluids_at", fluids_h, "clear fluids"),
    ):
        at = data.get(name)
        if at is None:
            continue
        if at > now + dt.timedelta(seconds=policy.future_tolerance_s()):
            problems[name] = "This time is in the future."
            continue
        fasted_h = Decimal((now - at).total_seconds()) / Decimal(3600)
        if fasted_h < need:
            problems[name] = (
                f"Last {what} {fasted_h.quantize(Decimal('0.1'))} h ago: clinic policy needs "
                f"{need.normalize()} h. Delay the infusion or ask the physician."
            )
    test = data.get("pregnancy_test")
    if pregnancy_test_required(session, today) and test not in (
        PregnancyTest.NEGATIVE,
        PregnancyTest.POSITIVE,
    ):
        low, high = policy.pregnancy_test_ages()
        problems["pregnancy_test"] = (
            f"A pregnancy test result is required (female at birth, age {low}-{high}: "
            "clinic policy)."
        )
    if test == PregnancyTest.POSITIVE:
        problems["pregnancy_test"] = "Positive pregnancy test: do not infuse. Tell the physician."
    weight = data.get("weight_kg")
    if weight is not None and not weight_in_range(weight):
        # Registration's bounds; the re-screen and the comparison below never see it.
        problems["weight_kg"] = (
            f"Weight must be between {WEIGHT_MIN_KG} and {WEIGHT_MAX_KG} kg (kilograms only)."
        )
        weight = None
    plan_weight = Decimal(session.plan.weight.weight_kg)
    if weight is not None and plan_weight > 0:
        change = abs(Decimal(weight) - plan_weight) / plan_weight * 100
        if change > policy.weight_change_percent():
            problems["weight_kg"] = (
                f"{weight} kg differs by {change.quantize(Decimal('1'))}% from the plan's "
                f"{plan_weight.normalize()} kg (more than {policy.weight_change_percent()}%). "
                "Do not start: the physician must re-plan the doses on today's weight. "
                "(If the scale showed pounds, re-weigh in kg.)"
            )
    if not data.get("escort_name", "").strip():
        problems.setdefault("escort_name", "Name the adult who will take the patient home.")
    if not data.get("escort_phone", "").strip():
        problems.setdefault("escort_phone", "A phone number for the escort is required.")
    if data.get("no_new_conditions_confirmed") is not True:
        problems.setdefault(
            "no_new_conditions_confirmed",
            "Confirm with the patient that nothing changed since the assessment (or call the "
            "physician).",
        )
    screen = None
    vitals_ok = all(data.get(n) is not None for n in VITAL_RANGES) and not any(
        n in problems for n in VITAL_RANGES
    )
    if vitals_ok:
        screen = rescreen(session, data, today)
        if screen["absolute"]:
            text = "; ".join(f"{r['message']} ({r['detail']})" for r in screen["absolute"])
            problems.setdefault("__all__", f"Contraindication today: {text}. Do not infuse.")
    return problems, screen


# --- dosing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateResult:
    calculation: InfusionCalculation
    rate_mg_per_h: Decimal
    rate_ml_per_h: Decimal


def calculate_rate(
    session: InfusionSession,
    *,
    dose_value: Decimal,
    dose_unit: str,
    concentration_mg_per_ml: Decimal,
    duration_min: float,
    prior_mg: Decimal = Decimal(0),
) -> RateResult:
    """mg/h and pump mL/h from a dose, by ``painclinic.pharmacology.calculate_infusion``, and
    the dose's own limits (weight, rate, bolus): the order is one step of the session, whose
    own limits (total, per kg, length) :func:`session_limits` checks on the whole session."""
    protocol = protocol_for(session)
    precision = protocol.pump_precision_ml_per_h if protocol else 0.1
    patient = session.patient
    stored = dict(session.plan.plan_data.get("patient") or {})
    order = {
        "drug": session.plan.drug,
        "patient": {
            "weight_kg": float(dosing_weight_kg(session)),
            **({"sex": patient.sex_at_birth} if patient.sex_at_birth in ("female", "male") else {}),
            **({"height_cm": float(stored["height_cm"])} if stored.get("height_cm") else {}),
        },
        "scope": "step",
        "setting": plan_setting(session),
        "session_duration_min": float(session.planned_session.duration_min),
        "dose": {"value": float(dose_value), "unit": dose_unit},
        "duration_min": max(float(duration_min), 1.0),
        "weight_basis": "actual",
        "bag": {"concentration_mg_per_ml": float(concentration_mg_per_ml)},
        "pump_precision_ml_per_h": precision,
        "prior_24h_mg": float(prior_mg),
    }
    try:
        calc = calculate_infusion(order, drug_library())
    except PharmacologyInputError as error:
        raise Refused(str(error), "dose_value") from error
    return RateResult(
        calc,
        to_decimal(calc.delivered_rate_mg_per_h, "0.0001"),
        to_decimal(calc.rate_ml_per_h, "0.01"),
    )


def session_limits(
    session: InfusionSession,
    given: list[tuple[dt.datetime, dt.datetime, Decimal]],
    planned: list[tuple[dt.datetime, dt.datetime, Decimal]],
) -> SessionLimitResult:
    """The whole session against the drug library (``pharmacology.evaluate_session``): what
    was given in it so far and what is planned from now to its planned end, as
    (start, end, mg/h) stretches; its total, total per kg (on the plan's patient: actual
    weight, height and sex) and length. The 24 hours across sessions are ``cumulative``'s."""
    stretches = [(a, b, r) for a, b, r in (*given, *planned) if b > a]
    origin = min((a for a, _, _ in stretches), default=timezone.now())
    steps = [
        SessionStep(
            (a - origin).total_seconds() / 60,
            (b - a).total_seconds() / 60,
            float(r) * (b - a).total_seconds() / 3600,
        )
        for a, b, r in stretches
    ]
    if not steps:
        steps = [SessionStep(0.0, 1.0, 0.0)]
    end_min = max(s.end_min for s in steps)
    stored = dict(session.plan.plan_data.get("patient") or {})
    covariates = {
        "weight_kg": float(stored.get("weight_kg") or dosing_weight_kg(session)),
        **({"height_cm": float(stored["height_cm"])} if stored.get("height_cm") else {}),
        **({"sex": stored["sex"]} if stored.get("sex") in ("female", "male") else {}),
    }
    return evaluate_session(
        drug_library(),
        session.plan.drug,
        parse_patient(covariates),
        steps,
        setting=plan_setting(session),
        planned_duration_min=max(float(session.planned_session.duration_min), end_min),
        quantities=[q for q in SESSION_QUANTITIES if q != "total_24h_mg"],
    )


def check_session_limits(
    session: InfusionSession, result: SessionLimitResult, *, reason: str, hard_only: bool = False
) -> None:
    """Refuse a session beyond a hard limit (``HardLimitRefused``, never overridable, audited
    with the values) or above a soft limit without a reason (``Refused`` on ``limit_reason``)."""
    crossed = [c.message() for c in result.breaches]
    detail = {
        "drug": session.plan.drug,
        "session_total_mg": round(result.total_mg, 3),
        "session_duration_min": round(result.duration_min, 1),
        "limits": [
            {
                "quantity": c.name,
                "value": round(c.value, 4),
                "unit": c.unit,
                "limit": c.limit_value,
                "level": str(c.level),
                "weight_kg": c.weight_kg,
                "source": c.source,
            }
            for c in result.breaches
        ],
    }
    if result.refused:
        first = result.breaches[0]
        detail.update(limit_quantity=first.name, limit=first.limit_value, limit_unit=first.unit)
        raise HardLimitRefused(
            "Refused: the whole session would cross a hard limit: " + "; ".join(crossed),
            "dose_value",
            detail=detail,
        )
    if not hard_only and result.breaches and not reason.strip():
        raise Refused(
            "The whole session would be above a soft limit: give a reason. " + "; ".join(crossed),
            "limit_reason",
            detail=detail,
        )


def limit_problem(result: RateResult, reason: str) -> tuple[str, str] | None:
    """(field, message) when a hard limit refuses the dose or a soft limit lacks a reason."""
    calc = result.calculation
    crossed = [w for w in calc.warnings if "limit" in w]
    if calc.status == "hard_limit":
        return "dose_value", "Refused by a hard limit: " + "; ".join(crossed)
    if calc.status == "soft_limit" and not reason.strip():
        return "limit_reason", "Above a soft limit: give a reason. " + "; ".join(crossed)
    return None


def hard_limit_detail(
    session: InfusionSession, result: RateResult, dose_value: Decimal, dose_unit: str
) -> dict[str, Any]:
    """The values a refused hard limit is audited with: the drug, the dose and the rate it
    gives (units in the keys) and each hard limit it broke."""
    broken = [
        {
            "quantity": check.name,
            "value": check.value,
            "unit": check.unit,
            "limit": check.limit_value,
            "bound": str(check.bound),
            "source": check.source,
        }
        for check in result.calculation.limit_checks
        if check.status == "hard_limit"
    ]
    first = broken[0] if broken else {}
    return {
        "drug": session.plan.drug,
        "dose": f"{dose_value} {dose_unit}",
        "rate_mg_per_h": str(result.rate_mg_per_h),
        "rate_ml_per_h": str(result.rate_ml_per_h),
        "limit_quantity": first.get("quantity"),
        "limit": first.get("limit"),
        "limit_unit": first.get("unit"),
        "hard_limits": broken,
    }


def check_limits(
    session: InfusionSession,
    result: RateResult,
    *,
    dose_value: Decimal,
    dose_unit: str,
    reason: str,
) -> None:
    """Refuse a dose beyond a hard limit (``HardLimitRefused``, never overridable) or above a
    soft limit without a reason (``Refused`` on ``limit_reason``)."""
    problem = limit_problem(result, reason)
    if problem is None:
        return
    field, message = problem
    if result.calculation.refused:
        detail = hard_limit_detail(session, result, dose_value, dose_unit)
        raise HardLimitRefused(message, field, detail=detail)
    raise Refused(message, field)


def remaining_planned_min(session: InfusionSession, elapsed_min: float) -> float:
    return max(float(session.planned_session.duration_min) - elapsed_min, 1.0)


def plan_rate_tolerance_mg_per_h(session: InfusionSession, concentration: Decimal) -> Decimal:
    protocol = protocol_for(session)
    precision = Decimal(str(protocol.pump_precision_ml_per_h if protocol else 0.1))
    return precision * concentration * Decimal("1.001")


def segment_mg(segment: RateSegment, until: dt.datetime) -> Decimal:
    """mg delivered by one segment up to ``until`` (exact: rate × UTC seconds / 3600)."""
    end = segment.ended_at or until
    seconds = Decimal(max((end - segment.started_at).total_seconds(), 0))
    return Decimal(segment.rate_mg_per_h) * seconds / Decimal(3600)


def delivered_mg(segments: list[RateSegment], until: dt.datetime) -> Decimal:
    return sum((segment_mg(s, until) for s in segments), Decimal(0))


def infusing_seconds(segments: list[RateSegment], until: dt.datetime) -> float:
    return sum(((s.ended_at or until) - s.started_at).total_seconds() for s in segments)


def preparation_problems(session: InfusionSession, data: Mapping[str, Any]) -> dict[str, str]:
    """Nurse 1's entry against the drug library and the plan (messages by field); a dose
    beyond a hard limit raises ``HardLimitRefused``."""
    problems: dict[str, str] = {}
    plan = session.plan
    entry = drug_entry(plan.drug)
    step = first_step(session)
    if data.get("drug") and data["drug"] != plan.drug:
        problems["drug"] = f"The plan is for {plan.drug}, not {data['drug']}."
    vial = data.get("vial_concentration_mg_per_ml")
    if vial is not None and float(vial) not in entry.vial_concentrations_mg_per_ml:
        problems["vial_concentration_mg_per_ml"] = "Not a vial concentration in the drug library."
    bag = data.get("bag_concentration_mg_per_ml")
    if bag is not None:
        if float(bag) not in entry.standard_concentrations_mg_per_ml:
            problems["bag_concentration_mg_per_ml"] = (
                "Not a standard bag concentration in the drug library."
            )
        elif abs(float(bag) - float(step["concentration_mg_per_ml"])) > 1e-9:
            problems["bag_concentration_mg_per_ml"] = (
                f"The plan's bag is {fmt(step['concentration_mg_per_ml'], 'mg/mL')}."
            )
    if problems or data.get("dose_value") is None or bag is None:
        return problems
    result = calculate_rate(
        session,
        dose_value=data["dose_value"],
        dose_unit=data["dose_unit"],
        concentration_mg_per_ml=bag,
        duration_min=float(step["duration_min"]),
    )
    if result.calculation.refused:
        # A hard limit is refused outright (and audited with its values), whatever the plan.
        check_limits(
            session, result, dose_value=data["dose_value"], dose_unit=data["dose_unit"], reason=""
        )
    planned = Decimal(str(step["rate_mg_per_h"]))
    if abs(result.rate_mg_per_h - planned) > plan_rate_tolerance_mg_per_h(session, bag):
        problems["dose_value"] = (
            f"{fmt(data['dose_value'], data['dose_unit'])} gives "
            f"{fmt(result.rate_mg_per_h, 'mg/h')}; the plan's first step is "
            f"{fmt(planned, 'mg/h')}. If the plan is wrong, the physician must re-plan."
        )
    elif abs(Decimal(data["pump_rate_entered_ml_per_h"]) - result.rate_ml_per_h) > Decimal("0.001"):
        problems["pump_rate_entered_ml_per_h"] = (
            f"For {fmt(result.rate_mg_per_h, 'mg/h')} at {fmt(bag, 'mg/mL')} the pump rate is "
            f"{fmt(result.rate_ml_per_h, 'mL/h')}, not "
            f"{fmt(data['pump_rate_entered_ml_per_h'], 'mL/h')}. Check the pump."
        )
    return problems
