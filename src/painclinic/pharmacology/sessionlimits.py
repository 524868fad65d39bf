"""Drug-library limits evaluated on a whole session: :func:`evaluate_session`.

A session is a list of steps (a loading dose, infusion stretches at constant rates, every
titration step); the limits on what a session delivers (its total in mg and in mg/kg, its
length, the rolling 24-hour amount) are evaluated on the session as a whole, never step by
step, so that a titration whose steps each stay under a limit but together exceed it is
caught. A bolus is checked against the bolus limits, never against the infusion-rate limits.

Per-kg limits are computed on the weight their library entry names: the actual weight, or the
lower of the actual and the ideal body weight (IBW = height - 100 cm for men, - 105 cm for
women: the Foo 2021 perioperative consensus as summarised [S2]). When height or sex is not
recorded the actual weight is used and the result says so in its warnings.

Which limits apply depends on the kind of session (a short session, planned no longer than the
drug's ``short_session_max_duration_min``, or a continuous infusion) and on the clinic setting
(outpatient or inpatient).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from painclinic.pharmacology.druglibrary import (
    QUANTITY_UNITS,
    SETTINGS,
    DrugEntry,
    DrugLibrary,
    Limit,
)
from painclinic.pharmacology.enums import LimitBound, LimitLevel, LimitStatus
from painclinic.pharmacology.errors import PharmacologyInputError
from painclinic.pharmacology.formatting import format_dose
from painclinic.pharmacology.patient import Patient, Sex

#: IBW offsets (cm) from the Foo 2021 summary [S2]: height − 100 (men), − 105 (women).
IBW_OFFSET_CM = {Sex.MALE: 100.0, Sex.FEMALE: 105.0}
#: Relative tolerance when comparing a value with a limit (floating-point noise only).
LIMIT_RTOL = 1e-9
#: Minutes in the rolling window of ``total_24h_mg``.
DAY_MIN = 24 * 60.0

#: Quantities of one step (checked per order by the calculator as well).
STEP_QUANTITIES = (
    "weight_kg",
    "rate_mg_per_h",
    "rate_mg_per_kg_per_h",
    "bolus_mg",
    "bolus_mg_per_kg",
)
#: Quantities of the whole session.
SESSION_QUANTITIES = (
    "session_total_mg",
    "session_total_mg_per_kg",
    "session_duration_min",
    "total_24h_mg",
)
#: Plain-language names of the quantities, for messages a person reads.
QUANTITY_LABELS = {
    "rate_mg_per_h": "rate",
    "rate_mg_per_kg_per_h": "rate per kg",
    "session_total_mg": "session total",
    "session_total_mg_per_kg": "session total per kg",
    "session_duration_min": "session length",
    "total_24h_mg": "total in 24 h",
    "bolus_mg": "bolus",
    "bolus_mg_per_kg": "bolus per kg",
    "weight_kg": "weight",
    "concentration_mg_per_ml": "bag concentration",
}
WEIGHT_LABELS = {
    "actual": "actual weight",
    "lower_of_actual_and_ideal": "lower of actual and ideal body weight",
}


@dataclass(frozen=True)
class LimitCheck:
    """Outcome of one drug-library limit.

    Attributes
    ----------
    name : str
        Quantity checked (e.g. ``"rate_mg_per_h"``, ``"concentration_mg_per_ml"``).
    status : LimitStatus
        ``WITHIN``, ``SOFT_LIMIT`` (allowed with a reason) or ``HARD_LIMIT`` (refused).
    value : float
        The computed value of the quantity.
    unit : str
    limit_value : float or None
    bound : LimitBound
        ``LOWER``, ``UPPER``, or ``MEMBER`` (the value must be in a list).
    source : str
    level : LimitLevel
    clinic_policy : bool
        True when the limit is not a published value.
    evidence : str
        ``"published"``, ``"secondary"`` or ``"clinic_policy"``.
    weight_basis : str or None
        The weight a per-kg value is on (``"actual"``, ``"lower_of_actual_and_ideal"``).
    weight_kg : float or None
        That weight (kg), for per-kg quantities.
    applies_to : str
        ``"all"``, ``"short_session"`` or ``"continuous"``.
    setting : str
        ``"all"``, ``"outpatient"`` or ``"inpatient"``.
    """

    name: str
    status: LimitStatus
    value: float
    unit: str
    limit_value: float | None
    bound: LimitBound
    source: str
    level: LimitLevel
    clinic_policy: bool
    evidence: str = "clinic_policy"
    weight_basis: str | None = None
    weight_kg: float | None = None
    applies_to: str = "all"
    setting: str = "all"

    def message(self) -> str:
        """One line for a person: the quantity, its value, the limit crossed and its source."""
        label = QUANTITY_LABELS.get(self.name, self.name)
        if self.limit_value is None:
            return f"{label} {format_dose(self.value, self.unit)} [{self.source}]"
        word = "above" if self.bound is LimitBound.UPPER else "below"
        kind = (
            "HARD limit (refused)"
            if self.status is LimitStatus.HARD_LIMIT
            else "soft limit (reason required)"
        )
        on = ""
        if self.weight_basis is not None and self.weight_kg is not None:
            on = f" on the {WEIGHT_LABELS[self.weight_basis]}, {format_dose(self.weight_kg, 'kg')}"
        return (
            f"{label} {format_dose(round(self.value, 4), self.unit)}{on} is {word} the {kind} "
            f"{format_dose(self.limit_value, self.unit)} [{self.source}]"
        )


def ideal_body_weight_kg(height_cm: float, sex: Sex) -> float:
    """Ideal body weight (kg) = height (cm) − 100 (men) or − 105 (women).

    Source: the Foo 2021 perioperative lidocaine consensus as summarised [S2]; check the
    primary paper before making it a hard rule.

    Parameters
    ----------
    height_cm : float
        Height (cm).
    sex : Sex
        ``Sex.MALE`` or ``Sex.FEMALE``.

    Returns
    -------
    float
        Ideal body weight (kg).

    Raises
    ------
    PharmacologyInputError
        Sex not male/female (``patient.sex``) or a non-positive result (``patient.height_cm``).
    """
    if sex not in IBW_OFFSET_CM:
        raise PharmacologyInputError(
            "patient.sex", "must be 'female' or 'male' for ideal or adjusted body weight"
        )
    ibw = height_cm - IBW_OFFSET_CM[sex]
    if ibw <= 0:
        raise PharmacologyInputError("patient.height_cm", f"gives a non-positive IBW ({ibw:g} kg)")
    return ibw


@dataclass(frozen=True)
class SessionStep:
    """One step of a session: a bolus, or a stretch at a constant rate.

    Attributes
    ----------
    start_min : float
        Start (min) from the session's start (negative for doses before it, in ``earlier``).
    duration_min : float
        Length (min), positive.
    amount_mg : float
        Amount (mg) the step delivers, non-negative.
    bolus : bool
        A bolus (checked against the bolus limits, not the rate limits).
    label : str
    """

    start_min: float
    duration_min: float
    amount_mg: float
    bolus: bool = False
    label: str = ""

    @property
    def end_min(self) -> float:
        return self.start_min + self.duration_min

    @property
    def rate_mg_per_h(self) -> float:
        """Mean rate (mg/h) over the step."""
        return self.amount_mg / self.duration_min * 60.0


@dataclass(frozen=True)
class SessionLimitResult:
    """Result of :func:`evaluate_session` (units in every name).

    Attributes
    ----------
    drug : str
    setting : str
        ``"outpatient"`` or ``"inpatient"``.
    session_kind : str
        ``"short_session"`` or ``"continuous"``.
    duration_min : float
        Planned session length (min).
    total_mg : float
        Session total (mg): every step, the loading dose included.
    max_24h_mg : float
        Largest amount (mg) in any 24 h ending during the session (earlier doses included).
    actual_weight_kg : float
    ideal_weight_kg : float or None
        None when height or sex is not recorded.
    lower_weight_kg : float
        Lower of actual and ideal (the actual weight when the ideal is unknown).
    checks : tuple of LimitCheck
        Every applicable limit, crossed or not.
    status : LimitStatus
        The worst check.
    warnings : tuple of str
    """

    drug: str
    setting: str
    session_kind: str
    duration_min: float
    total_mg: float
    max_24h_mg: float
    actual_weight_kg: float
    ideal_weight_kg: float | None
    lower_weight_kg: float
    checks: tuple[LimitCheck, ...]
    status: LimitStatus
    warnings: tuple[str, ...]

    @property
    def breaches(self) -> tuple[LimitCheck, ...]:
        """The checks that crossed their limit, hard ones first."""
        crossed = [c for c in self.checks if c.status is not LimitStatus.WITHIN]
        return tuple(sorted(crossed, key=lambda c: -c.status.rank))

    @property
    def refused(self) -> bool:
        return self.status is LimitStatus.HARD_LIMIT

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["checks"] = [asdict(c) for c in self.checks]
        d["warnings"] = list(self.warnings)
        d["refused"] = self.refused
        return d


def compare(value: float, lim: Limit, *, weight_kg: float | None = None) -> LimitCheck:
    """Check ``value`` (in the limit's unit) against one library limit.

    Parameters
    ----------
    value : float
        The quantity's value, in ``lim.unit``.
    lim : Limit
        The library limit.
    weight_kg : float, optional
        The weight (kg) a per-kg value was computed on, reported with the check.

    Returns
    -------
    LimitCheck
    """
    tol = LIMIT_RTOL * max(abs(lim.value), 1e-12)
    crossed = value > lim.value + tol if lim.bound is LimitBound.UPPER else value < lim.value - tol
    per_kg = "_per_kg" in lim.quantity
    return LimitCheck(
        name=lim.quantity,
        status=lim.level.crossed if crossed else LimitStatus.WITHIN,
        value=value,
        unit=QUANTITY_UNITS[lim.quantity],
        limit_value=lim.value,
        bound=lim.bound,
        source=lim.source,
        level=lim.level,
        clinic_policy=lim.clinic_policy,
        evidence=lim.evidence,
        weight_basis=lim.weight_basis if per_kg else None,
        weight_kg=weight_kg if per_kg else None,
        applies_to=lim.applies_to,
        setting=lim.setting,
    )


def max_window_mg(
    steps: Sequence[SessionStep], earlier: Sequence[SessionStep], window_min: float = DAY_MIN
) -> float:
    """Largest amount (mg) delivered in any window of ``window_min`` ending during the session.

    Each step delivers its amount evenly over its duration, so the amount in a window is
    piecewise linear in the window's end and its maximum is at a step boundary or at a
    boundary plus the window length; those are all evaluated.

    Parameters
    ----------
    steps : sequence of SessionStep
        The session (start 0 at its first step).
    earlier : sequence of SessionStep
        Earlier doses (negative ``start_min``) that may fall in the window.
    window_min : float
        Window length (min), 24 h by default.

    Returns
    -------
    float
        mg.
    """
    if not steps:
        return 0.0
    everything = [*earlier, *steps]
    first = min(s.start_min for s in steps)
    last = max(s.end_min for s in steps)
    ends = {first, last}
    for s in everything:
        for edge in (s.start_min, s.end_min):
            for t in (edge, edge + window_min):
                if first <= t <= last:
                    ends.add(t)

    def within(t: float) -> float:
        lo = t - window_min
        total = 0.0
        for s in everything:
            overlap = max(0.0, min(s.end_min, t) - max(s.start_min, lo))
            total += s.amount_mg * overlap / s.duration_min
        return total

    return max(within(t) for t in ends)


def _steps(steps: Iterable[SessionStep], field: str) -> tuple[SessionStep, ...]:
    out = tuple(steps)
    for i, s in enumerate(out):
        if not isinstance(s, SessionStep):
            raise PharmacologyInputError(f"{field}[{i}]", "must be a SessionStep")
        if not s.duration_min > 0:
            raise PharmacologyInputError(f"{field}[{i}].duration_min", "must be positive")
        if not s.amount_mg >= 0:
            raise PharmacologyInputError(f"{field}[{i}].amount_mg", "must be non-negative")
    return out


def _weights(
    entry: DrugEntry, patient: Patient, limits: Sequence[Limit]
) -> tuple[float, float | None, float, list[str]]:
    if patient.weight_kg is None:
        raise PharmacologyInputError("patient.weight_kg", "is required")
    actual = float(patient.weight_kg)
    warnings: list[str] = []
    ibw: float | None = None
    if patient.height_cm is not None and patient.sex in IBW_OFFSET_CM:
        try:
            ibw = ideal_body_weight_kg(patient.height_cm, patient.sex)
        except PharmacologyInputError:
            ibw = None
    needs_ibw = any(lim.weight_basis == "lower_of_actual_and_ideal" for lim in limits)
    if ibw is None and needs_ibw:
        missing = (
            "height"
            if patient.height_cm is None
            else "sex"
            if patient.sex not in IBW_OFFSET_CM
            else "a usable height"
        )
        warnings.append(
            f"{missing.capitalize()} not recorded: the per-kg limits of {entry.display_name} "
            f"are on the actual weight ({format_dose(actual, 'kg')}), not on the lower of actual "
            "and ideal body weight. Record height and sex."
        )
    lower = actual if ibw is None else min(actual, ibw)
    return actual, ibw, lower, warnings


def evaluate_session(
    library: DrugLibrary,
    drug: str,
    patient: Patient,
    steps: Iterable[SessionStep],
    *,
    setting: str = "outpatient",
    earlier: Iterable[SessionStep] = (),
    prior_24h_mg: float = 0.0,
    planned_duration_min: float | None = None,
    quantities: Iterable[str] | None = None,
) -> SessionLimitResult:
    """Check a whole session against the drug library's limits.

    Parameters
    ----------
    library : DrugLibrary
        The validated drug library whose limits are checked.
    drug : str
        ``"ketamine"`` or ``"lidocaine"`` (any drug in the library).
    patient : Patient
        Actual weight (kg) required; height (cm) and sex for the ideal body weight.
    steps : iterable of SessionStep
        Every step of the session from its start (0 min): the loading dose, each infusion
        stretch, each titration step. For a running session: what was given so far and what
        the new rate would give until the planned end.
    setting : str
        ``"outpatient"`` or ``"inpatient"``: which 24-hour limits apply.
    earlier : iterable of SessionStep
        Doses before the session (negative ``start_min``), counted in the rolling 24 h.
    prior_24h_mg : float
        mg to add to every 24-hour window (when only a total of earlier doses is known).
    planned_duration_min : float, optional
        Planned session length (min); default: from the first step's start to the last
        step's end. Decides the session kind and the session-length limits.
    quantities : iterable of str, optional
        Check only these quantities (default: all).

    Returns
    -------
    SessionLimitResult
        Every applicable check; the rates are the highest (upper limits) and the lowest
        (lower limits) of the infusion steps, the bolus the largest bolus step.

    Raises
    ------
    PharmacologyInputError
        Unknown drug or setting, a step of non-positive length, no weight.
    """
    entry = library.drug(drug)
    if setting not in SETTINGS or setting == "all":
        raise PharmacologyInputError("setting", "must be 'outpatient' or 'inpatient'")
    session = _steps(steps, "steps")
    before = _steps(earlier, "earlier")
    if not session:
        raise PharmacologyInputError("steps", "a session needs at least one step")
    if prior_24h_mg < 0:
        raise PharmacologyInputError("prior_24h_mg", "must be non-negative")
    start = min(s.start_min for s in session)
    duration = (
        max(s.end_min for s in session) - start
        if planned_duration_min is None
        else float(planned_duration_min)
    )
    kind = entry.session_kind(duration)
    wanted = set(quantities) if quantities is not None else set(QUANTITY_UNITS)
    limits = [lim for lim in entry.limits if lim.applies(kind, setting) and lim.quantity in wanted]
    actual, ibw, lower, warnings = _weights(entry, patient, limits)

    infusion = [s for s in session if not s.bolus and s.amount_mg > 0]
    boluses = [s for s in session if s.bolus]
    total = sum(s.amount_mg for s in session)
    window = prior_24h_mg + max_window_mg(session, before)

    def weight_for(lim: Limit) -> float:
        return lower if lim.weight_basis == "lower_of_actual_and_ideal" else actual

    checks: list[LimitCheck] = []
    for lim in limits:
        w = weight_for(lim)
        upper = lim.bound is LimitBound.UPPER
        q = lim.quantity
        value: float | None
        if q == "weight_kg":
            value = actual
        elif q in ("rate_mg_per_h", "rate_mg_per_kg_per_h"):
            if not infusion:
                continue
            rates = [s.rate_mg_per_h for s in infusion]
            value = max(rates) if upper else min(rates)
            if q == "rate_mg_per_kg_per_h":
                value /= w
        elif q in ("bolus_mg", "bolus_mg_per_kg"):
            if not boluses:
                continue
            amounts = [s.amount_mg for s in boluses]
            value = max(amounts) if upper else min(amounts)
            if q == "bolus_mg_per_kg":
                value /= w
        elif q == "session_total_mg":
            value = total
        elif q == "session_total_mg_per_kg":
            value = total / w
        elif q == "session_duration_min":
            if not infusion:  # a minimum infusion time: a bolus alone is not a session
                continue
            value = duration
        elif q == "total_24h_mg":
            value = window
        else:  # pragma: no cover - QUANTITY_UNITS and this list are kept together
            continue
        checks.append(compare(value, lim, weight_kg=w))
    status = max((c.status for c in checks), key=lambda s: s.rank, default=LimitStatus.WITHIN)
    return SessionLimitResult(
        drug=entry.name,
        setting=setting,
        session_kind=kind,
        duration_min=duration,
        total_mg=total,
        max_24h_mg=window,
        actual_weight_kg=actual,
        ideal_weight_kg=ibw,
        lower_weight_kg=lower,
        checks=tuple(checks),
        status=status,
        warnings=tuple(warnings),
    )


__all__ = [
    "DAY_MIN",
    "IBW_OFFSET_CM",
    "LIMIT_RTOL",
    "SESSION_QUANTITIES",
    "STEP_QUANTITIES",
    "LimitCheck",
    "LimitLevel",
    "SessionLimitResult",
    "SessionStep",
    "evaluate_session",
    "ideal_body_weight_kg",
    "max_window_mg",
]
