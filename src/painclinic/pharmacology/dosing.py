"""Dose and pump-rate calculator: :func:`calculate_infusion`.

Order schema (dict or :class:`InfusionOrder`)::

    {"drug": "ketamine" | "lidocaine",
     "patient": {"weight_kg": 70, "height_cm": 170, "sex": "female"},
     "dose": {"value": 0.35, "unit": "mg/kg/h" | "mg/h" | "mcg/kg/min" | "mg/kg" | "mg"},
     "duration_min": 240,
     "weight_basis": "actual" | "ideal" | "adjusted",
     "weight_cap_kg": null,
     "max_rate_mg_per_h": null,
     "max_total_mg": null,
     "bag": {"concentration_mg_per_ml": 1} | {"drug_amount_mg": 100, "diluent_volume_ml": 100},
     "pump_precision_ml_per_h": 0.1,
     "prior_24h_mg": 0,
     "scope": "session" | "step",
     "setting": "outpatient" | "inpatient",
     "session_duration_min": null}

Calculation
-----------
1. Dosing weight: actual, ideal (IBW = height − 100 cm for men, − 105 for women: the
   Foo 2021 summary [S2]) or adjusted (IBW + 0.4 × (actual − IBW); the 0.4 factor is
   conventional [U]); then ``min(weight, weight_cap_kg)``.
2. Ordered rate (mg/h): mg/kg/h × W; mg/h; mcg/kg/min × W × 60/1000; mg/kg × W ÷ hours;
   mg ÷ hours. Capped by ``max_rate_mg_per_h`` and then by ``max_total_mg`` (the rate is
   lowered so the session total fits; the duration is kept). Every cap is a warning.
3. Pump rate (mL/h) = mg/h ÷ mg/mL, rounded to the nearest multiple of the pump precision
   (halves up, exact decimal arithmetic). If that would exceed a protocol cap, it is
   rounded down instead; a positive dose is never rounded to zero (one precision step is
   used, with a warning). The delivered mg/h after rounding is reported and used for all
   totals and limit checks.
4. Volume = mL/h × hours; total = delivered mg/h × hours.
5. Limit checks against the drug library (soft/hard, lower/upper) by
   :func:`~painclinic.pharmacology.sessionlimits.evaluate_session`, the order being one step:
   with ``scope`` "session" (default) it is a whole session and every limit is checked; with
   "step" only the step's own (weight, rate, bolus), the session's being checked on all the
   steps together (``session_duration_min``, the whole session's planned length, then
   decides whether the step belongs to a short session or a continuous infusion). An amount
   over at most ``bolus_max_duration_min`` is a bolus, checked against the bolus limits and
   not the rate limits. Per-kg limits are on the weight their library entry names (actual,
   or the lower of actual and ideal), whatever the dosing weight. A bag concentration not in
   the library's standard list is a hard limit (refused).
   Status = worst check.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from painclinic.pharmacology.druglibrary import (
    DrugEntry,
    DrugLibrary,
    load_drug_library,
)
from painclinic.pharmacology.enums import DoseUnit, LimitBound, LimitLevel, LimitStatus
from painclinic.pharmacology.errors import PharmacologyInputError
from painclinic.pharmacology.formatting import decimals_of_step, format_dose, format_number
from painclinic.pharmacology.patient import Patient, parse_patient, positive_number
from painclinic.pharmacology.sessionlimits import (
    IBW_OFFSET_CM as IBW_OFFSET_CM,
)
from painclinic.pharmacology.sessionlimits import (
    LIMIT_RTOL,
    QUANTITY_LABELS,
    STEP_QUANTITIES,
    LimitCheck,
    SessionStep,
    evaluate_session,
    ideal_body_weight_kg,
)

DOSE_UNITS = tuple(DoseUnit)
WEIGHT_BASES = ("actual", "ideal", "adjusted")
#: Adjusted body weight factor: IBW + 0.4 × (actual − IBW) [U, conventional].
ADJUSTED_WEIGHT_FACTOR = 0.4


@dataclass(frozen=True)
class Bag:
    """The infusion bag: a standard concentration, or drug amount in a final volume.

    ``diluent_volume_ml`` is taken as the final bag volume (assumption: the clinic
    withdraws the drug's volume from the bag, or states the final volume here).
    """

    concentration_mg_per_ml: float
    drug_amount_mg: float | None = None
    diluent_volume_ml: float | None = None


@dataclass(frozen=True)
class InfusionOrder:
    """A validated order (see the module docstring for the dict form)."""

    drug: str
    patient: Patient
    dose_value: float
    dose_unit: DoseUnit
    duration_min: float
    bag: Bag
    weight_basis: str = "actual"
    weight_cap_kg: float | None = None
    max_rate_mg_per_h: float | None = None
    max_total_mg: float | None = None
    pump_precision_ml_per_h: float = 0.1
    prior_24h_mg: float = 0.0
    scope: str = "session"
    setting: str = "outpatient"
    session_duration_min: float | None = None


@dataclass(frozen=True)
class InfusionCalculation:
    """Result of :func:`calculate_infusion` (all fields carry their units)."""

    drug: str
    weight_basis: str
    dose_weight_kg: float
    ordered_rate_mg_per_h: float
    rate_mg_per_h: float
    rate_ml_per_h: float
    delivered_rate_mg_per_h: float
    duration_h: float
    total_mg: float
    volume_ml: float
    concentration_mg_per_ml: float
    limit_checks: tuple[LimitCheck, ...]
    status: LimitStatus
    display: Mapping[str, str]
    warnings: tuple[str, ...]

    @property
    def refused(self) -> bool:
        """True when a hard limit is crossed."""
        return self.status is LimitStatus.HARD_LIMIT

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field."""
        d = asdict(self)
        d["limit_checks"] = [asdict(c) for c in self.limit_checks]
        d["display"] = dict(self.display)
        d["warnings"] = list(self.warnings)
        d["refused"] = self.refused
        return d


def _opt(d: Mapping[str, Any], key: str, path: str) -> float | None:
    if d.get(key) is None:
        return None
    return positive_number(d[key], path)


_ORDER_KEYS = {
    "drug",
    "patient",
    "dose",
    "duration_min",
    "weight_basis",
    "weight_cap_kg",
    "max_rate_mg_per_h",
    "max_total_mg",
    "bag",
    "pump_precision_ml_per_h",
    "prior_24h_mg",
    "scope",
    "setting",
    "session_duration_min",
}
#: ``scope``: the order is a whole session, or one step of a longer session.
SCOPES = ("session", "step")
#: ``setting``: which 24-hour limits apply.
SETTINGS = ("outpatient", "inpatient")


def parse_order(data: Any, library: DrugLibrary | None = None) -> InfusionOrder:
    """Validate an order dict (or JSON text) into an :class:`InfusionOrder`.

    Parameters
    ----------
    data : dict, JSON str, InfusionOrder, or any dataclass instance
        The order (schema in the module docstring); a caller's own (frozen) dataclass with
        the same field names is converted with :func:`dataclasses.asdict`.
    library : DrugLibrary, optional
        Drug library used to recognise the drug (default: :func:`load_drug_library`).

    Returns
    -------
    InfusionOrder

    Raises
    ------
    PharmacologyInputError
        ``.field`` names the bad input (``"dose.unit"``, ``"bag"``, ``"patient.weight_kg"``...).
    """
    if isinstance(data, InfusionOrder):
        return data
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        # a caller's own frozen dataclass mirroring the order schema
        data = dataclasses.asdict(data)
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise PharmacologyInputError("order", f"malformed JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise PharmacologyInputError("order", "must be a JSON object")
    for key in data:
        if key not in _ORDER_KEYS:
            raise PharmacologyInputError(key, f"unknown field (expected {sorted(_ORDER_KEYS)})")
    lib = library or load_drug_library()
    if data.get("drug") is None:
        raise PharmacologyInputError("drug", "is required")
    drug = lib.drug(data["drug"]).name
    patient = parse_patient(data.get("patient"))
    if patient.weight_kg is None:
        raise PharmacologyInputError("patient.weight_kg", "is required")
    dose = data.get("dose")
    if not isinstance(dose, Mapping):
        raise PharmacologyInputError("dose", "is required: {value, unit}")
    value = positive_number(dose.get("value"), "dose.value")
    unit_text = str(dose.get("unit", "")).strip().replace("µg", "mcg").replace("ug/", "mcg/")
    try:
        unit = DoseUnit(unit_text)
    except ValueError:
        raise PharmacologyInputError(
            "dose.unit", f"must be one of {', '.join(DOSE_UNITS)}, got {dose.get('unit')!r}"
        ) from None
    duration = positive_number(data.get("duration_min"), "duration_min")
    basis = str(data.get("weight_basis") or "actual").strip().lower()
    if basis not in WEIGHT_BASES:
        raise PharmacologyInputError("weight_basis", f"must be one of {WEIGHT_BASES}")
    bag_raw = data.get("bag")
    if not isinstance(bag_raw, Mapping):
        raise PharmacologyInputError("bag", "is required")
    for key in bag_raw:
        if key not in ("concentration_mg_per_ml", "drug_amount_mg", "diluent_volume_ml"):
            raise PharmacologyInputError(f"bag.{key}", "unknown field")
    if bag_raw.get("concentration_mg_per_ml") is not None:
        if (
            bag_raw.get("drug_amount_mg") is not None
            or bag_raw.get("diluent_volume_ml") is not None
        ):
            raise PharmacologyInputError(
                "bag",
                "give concentration_mg_per_ml or drug_amount_mg + diluent_volume_ml, not both",
            )
        bag = Bag(
            positive_number(bag_raw["concentration_mg_per_ml"], "bag.concentration_mg_per_ml")
        )
    else:
        amount = positive_number(bag_raw.get("drug_amount_mg"), "bag.drug_amount_mg")
        volume = positive_number(bag_raw.get("diluent_volume_ml"), "bag.diluent_volume_ml")
        bag = Bag(amount / volume, amount, volume)
    precision = data.get("pump_precision_ml_per_h", 0.1)
    precision = positive_number(precision, "pump_precision_ml_per_h")
    prior = data.get("prior_24h_mg", 0) or 0
    scope = str(data.get("scope") or "session").strip().lower()
    if scope not in SCOPES:
        raise PharmacologyInputError("scope", f"must be one of {SCOPES}")
    setting = str(data.get("setting") or "outpatient").strip().lower()
    if setting not in SETTINGS:
        raise PharmacologyInputError("setting", f"must be one of {SETTINGS}")
    return InfusionOrder(
        drug=drug,
        patient=patient,
        dose_value=value,
        dose_unit=unit,
        duration_min=duration,
        bag=bag,
        weight_basis=basis,
        weight_cap_kg=_opt(data, "weight_cap_kg", "weight_cap_kg"),
        max_rate_mg_per_h=_opt(data, "max_rate_mg_per_h", "max_rate_mg_per_h"),
        max_total_mg=_opt(data, "max_total_mg", "max_total_mg"),
        pump_precision_ml_per_h=precision,
        prior_24h_mg=positive_number(prior, "prior_24h_mg", allow_zero=True),
        scope=scope,
        setting=setting,
        session_duration_min=_opt(data, "session_duration_min", "session_duration_min"),
    )


def dosing_weight_kg(order: InfusionOrder) -> tuple[float, list[str]]:
    """Dosing weight (kg) for the order's weight basis and cap, with warnings.

    Parameters
    ----------
    order : InfusionOrder
        A validated order: its patient's actual weight (kg), height (cm) and sex, its
        ``weight_basis`` and its ``weight_cap_kg``.

    Returns
    -------
    weight_kg : float
        Dosing weight (kg): actual, ideal or adjusted, then capped.
    warnings : list of str
        An ideal weight above the actual one, or the cap applied.

    Raises
    ------
    PharmacologyInputError
        Ideal or adjusted weight without height (``patient.height_cm``) or sex.
    """
    p = order.patient
    assert p.weight_kg is not None
    warnings: list[str] = []
    weight = p.weight_kg
    if order.weight_basis in ("ideal", "adjusted"):
        if p.height_cm is None:
            raise PharmacologyInputError(
                "patient.height_cm", f"is required for {order.weight_basis} body weight"
            )
        ibw = ideal_body_weight_kg(p.height_cm, p.sex)
        if order.weight_basis == "ideal":
            weight = ibw
            if ibw > p.weight_kg:
                warnings.append(
                    f"ideal body weight {format_dose(ibw, 'kg')} exceeds actual weight "
                    f"{format_dose(p.weight_kg, 'kg')}; confirm the dosing weight"
                )
        else:
            weight = ibw + ADJUSTED_WEIGHT_FACTOR * (p.weight_kg - ibw)
    if order.weight_cap_kg is not None and weight > order.weight_cap_kg:
        warnings.append(
            f"dosing weight capped at {format_dose(order.weight_cap_kg, 'kg')} "
            f"(was {format_dose(weight, 'kg')})"
        )
        weight = order.weight_cap_kg
    return weight, warnings


def ordered_rate_mg_per_h(
    value: float, unit: DoseUnit | str, weight_kg: float, duration_h: float
) -> float:
    """Convert a dose in ``unit`` to a rate in mg/h.

    Parameters
    ----------
    value : float
        Dose value in ``unit``.
    unit : DoseUnit or str
        A :class:`DoseUnit` or its text (``"mg/kg/h"``, ``"mg/h"``, ``"mcg/kg/min"``,
        ``"mg/kg"``, ``"mg"``); amount doses (mg/kg, mg) run over ``duration_h``.
    weight_kg : float
        Dosing weight (kg).
    duration_h : float
        Duration (h).

    Returns
    -------
    float
        Rate (mg/h).
    """
    try:
        unit = DoseUnit(unit)
    except ValueError:
        raise PharmacologyInputError("dose.unit", f"unsupported unit {unit!r}") from None
    match unit:
        case DoseUnit.MG_PER_KG_PER_H:
            return value * weight_kg
        case DoseUnit.MG_PER_H:
            return value
        case DoseUnit.MCG_PER_KG_PER_MIN:
            return value * weight_kg * 60.0 / 1000.0
        case DoseUnit.MG_PER_KG:
            return value * weight_kg / duration_h
        case DoseUnit.MG:
            return value / duration_h


def round_to_step(value: float, step: float, *, down: bool = False) -> float:
    """Round ``value`` to a multiple of ``step`` (nearest, halves up; or down), exactly.

    Parameters
    ----------
    value : float
        The quantity to round (any unit, e.g. a pump rate in mL/h).
    step : float
        The increment, in the unit of ``value`` (e.g. the pump precision 0.1 mL/h).
    down : bool
        Round down (towards minus infinity) instead of to the nearest multiple.

    Returns
    -------
    float
        A multiple of ``step``, computed in decimal arithmetic from the shortest decimal
        representations of ``value`` and ``step`` (``round_to_step(0.35, 0.1) == 0.4``).
    """
    q = Decimal(repr(value)) / Decimal(repr(step))
    n = q.quantize(Decimal(1), rounding=ROUND_FLOOR if down else ROUND_HALF_UP)
    return float(n * Decimal(repr(step)))


def _member(values: tuple[float, ...], x: float) -> bool:
    return any(math.isclose(x, v, rel_tol=1e-9) for v in values)


def calculate_infusion(
    order: Mapping[str, Any] | InfusionOrder | str, library: DrugLibrary | None = None
) -> InfusionCalculation:
    """Compute mg/h, pump mL/h, volume, total and duration, and check the drug library.

    Parameters
    ----------
    order : dict, JSON str or InfusionOrder
        See the module docstring for the schema.
    library : DrugLibrary, optional
        Default: :func:`~painclinic.pharmacology.druglibrary.load_drug_library`.

    Returns
    -------
    InfusionCalculation
        ``status`` is the worst limit check; ``LimitStatus.HARD_LIMIT`` means refused.

    Raises
    ------
    PharmacologyInputError
        Malformed orders; ``.field`` names the culprit.

    Examples
    --------
    >>> c = calculate_infusion({"drug": "ketamine", "patient": {"weight_kg": 70},
    ...     "dose": {"value": 0.35, "unit": "mg/kg/h"}, "duration_min": 240,
    ...     "bag": {"concentration_mg_per_ml": 1}})
    >>> c.display["pump_rate"], c.display["total"], c.status
    ('24.5 mL/h', '98 mg', <LimitStatus.WITHIN: 'within'>)
    >>> c.status == "within"  # a StrEnum member equals its text
    True
    """
    lib = library or load_drug_library()
    o = parse_order(order, lib)
    entry: DrugEntry = lib.drug(o.drug)
    warnings: list[str] = []
    weight, w_warn = dosing_weight_kg(o)
    warnings.extend(w_warn)
    duration_h = o.duration_min / 60.0
    ordered = ordered_rate_mg_per_h(o.dose_value, o.dose_unit, weight, duration_h)
    rate = ordered
    if o.max_rate_mg_per_h is not None and rate > o.max_rate_mg_per_h:
        warnings.append(
            f"rate capped by protocol at {format_dose(o.max_rate_mg_per_h, 'mg/h')} "
            f"(ordered {format_dose(ordered, 'mg/h')})"
        )
        rate = o.max_rate_mg_per_h
    if o.max_total_mg is not None and rate * duration_h > o.max_total_mg:
        new_rate = o.max_total_mg / duration_h
        warnings.append(
            f"session total capped by protocol at {format_dose(o.max_total_mg, 'mg')}: rate "
            f"lowered from {format_dose(rate, 'mg/h')} to {format_dose(new_rate, 'mg/h')}"
        )
        rate = new_rate
    conc = o.bag.concentration_mg_per_ml
    step = o.pump_precision_ml_per_h
    exact_ml = rate / conc
    ml = round_to_step(exact_ml, step)
    caps = [c for c in (o.max_rate_mg_per_h,) if c is not None]
    if o.max_total_mg is not None:
        caps.append(o.max_total_mg / duration_h)
    if caps and ml * conc > min(caps) * (1 + LIMIT_RTOL):
        ml = round_to_step(exact_ml, step, down=True)
    if ml <= 0:
        ml = step
        warnings.append(
            f"pump rate {format_number(exact_ml)} mL/h is below the pump precision; "
            f"set to one step ({format_dose(step, 'mL/h')}), delivering more than ordered"
        )
    elif not math.isclose(ml, exact_ml, rel_tol=1e-12):
        warnings.append(
            f"pump rate rounded from {format_number(exact_ml, significant=6)} to "
            f"{format_dose(ml, 'mL/h', decimals=decimals_of_step(step))} "
            f"(pump precision {format_dose(step, 'mL/h')})"
        )
    delivered = ml * conc
    total = delivered * duration_h
    volume = ml * duration_h
    if o.bag.drug_amount_mg is not None and total > o.bag.drug_amount_mg * (1 + LIMIT_RTOL):
        warnings.append(
            f"the order needs {format_dose(total, 'mg')} but the bag holds "
            f"{format_dose(o.bag.drug_amount_mg, 'mg')}: more than one bag"
        )

    checks: list[LimitCheck] = []
    if not _member(entry.standard_concentrations_mg_per_ml, conc):
        allowed = ", ".join(
            format_dose(c, "mg/mL") for c in entry.standard_concentrations_mg_per_ml
        )
        checks.append(
            LimitCheck(
                name="concentration_mg_per_ml",
                status=LimitStatus.HARD_LIMIT,
                value=conc,
                unit="mg/mL",
                limit_value=None,
                bound=LimitBound.MEMBER,
                source=f"not a standard {o.drug} concentration in the drug library ({allowed}); "
                f"{entry.concentration_source}",
                level=LimitLevel.HARD,
                clinic_policy=True,
            )
        )
        warnings.append(
            f"bag concentration {format_dose(conc, 'mg/mL')} is not a library standard "
            f"({allowed}): refused"
        )
    is_bolus = o.dose_unit.is_amount and o.duration_min <= entry.bolus_max_duration_min

    # The order is one step; with scope "session" (the default) it is the whole session and the
    # session limits are checked on it too, with scope "step" (one step of a longer session,
    # as the protocol planner sends them) only the step's own limits: the session's are for
    # evaluate_session on all its steps together. A bolus is checked against the bolus limits,
    # never the infusion-rate limits. Upper limits are checked on what the pump delivers after
    # rounding (it may round up); lower limits on the ordered dose after protocol caps
    # (rounding may deliver a hair less).
    def evaluate(amount_mg: float) -> Any:
        return evaluate_session(
            lib,
            o.drug,
            o.patient,
            [SessionStep(0.0, o.duration_min, amount_mg, bolus=is_bolus)],
            setting=o.setting,
            prior_24h_mg=o.prior_24h_mg,
            planned_duration_min=o.session_duration_min,
            quantities=None if o.scope == "session" else STEP_QUANTITIES,
        )

    ordered_eval = evaluate(rate * duration_h)
    delivered_eval = evaluate(total)
    pushed_over = [
        after
        for before, after in zip(ordered_eval.checks, delivered_eval.checks, strict=True)
        if after.status is LimitStatus.HARD_LIMIT and before.status is LimitStatus.WITHIN
    ]
    down = round_to_step(exact_ml, step, down=True)
    if pushed_over and ml > down > 0:
        # Rounding the pump rate up would cross a hard limit the ordered dose does not: round
        # down instead (never let the pump's precision push a dose past a hard limit).
        warnings = [w for w in warnings if not w.startswith("pump rate rounded from")]
        warnings.append(
            f"pump rate rounded down from {format_number(exact_ml, significant=6)} to "
            f"{format_dose(down, 'mL/h', decimals=decimals_of_step(step))}: rounding up would "
            f"cross the hard limit on the {QUANTITY_LABELS[pushed_over[0].name]}"
        )
        ml = down
        delivered = ml * conc
        total = delivered * duration_h
        volume = ml * duration_h
        delivered_eval = evaluate(total)
    for upper_check, lower_check in zip(delivered_eval.checks, ordered_eval.checks, strict=True):
        checks.append(upper_check if upper_check.bound is LimitBound.UPPER else lower_check)
    warnings.extend(delivered_eval.warnings)
    status = max((c.status for c in checks), key=lambda s: s.rank, default=LimitStatus.WITHIN)
    for c in checks:
        if c.status is not LimitStatus.WITHIN and c.name != "concentration_mg_per_ml":
            assert c.limit_value is not None
            word = "above" if c.bound is LimitBound.UPPER else "below"
            kind = (
                "HARD limit (refused)"
                if c.status is LimitStatus.HARD_LIMIT
                else "soft limit (reason required)"
            )
            value_text = format_number(c.value, significant=4)
            warnings.append(
                f"{c.name} {value_text} {c.unit} is {word} the {kind} "
                f"{format_dose(c.limit_value, c.unit)} [{c.source}]"
            )
    pump_decimals = decimals_of_step(step)
    display = {
        "drug": entry.display_name,
        "dose": format_dose(o.dose_value, o.dose_unit),
        "dose_weight": format_dose(weight, "kg"),
        "rate": format_dose(rate, DoseUnit.MG_PER_H),
        "pump_rate": format_dose(ml, "mL/h", decimals=pump_decimals),
        "delivered_rate": format_dose(delivered, DoseUnit.MG_PER_H),
        "concentration": format_dose(conc, "mg/mL"),
        "duration": format_dose(o.duration_min / 60, "h")
        if o.duration_min % 60 == 0
        else format_dose(o.duration_min, "min"),
        "total": format_dose(total, "mg"),
        "volume": format_dose(volume, "mL"),
    }
    return InfusionCalculation(
        drug=o.drug,
        weight_basis=o.weight_basis,
        dose_weight_kg=weight,
        ordered_rate_mg_per_h=ordered,
        rate_mg_per_h=rate,
        rate_ml_per_h=ml,
        delivered_rate_mg_per_h=delivered,
        duration_h=duration_h,
        total_mg=total,
        volume_ml=volume,
        concentration_mg_per_ml=conc,
        limit_checks=tuple(checks),
        status=status,
        display=display,
        warnings=tuple(warnings),
    )
