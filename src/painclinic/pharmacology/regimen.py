"""Regimen format: frozen dataclasses and the parser for the JSON/dict form.

A regimen (issue 3, item 8)::

    {"drug": "ketamine", "model": "domino",
     "patient": {"weight_kg": 70, "height_cm": 170, "age_years": 45, "sex": "female"},
     "doses": [
       {"route": "iv_bolus", "time_h": 0, "amount_mg": 10},
       {"route": "iv_infusion", "time_h": 0, "rate_mg_per_h": 24.5, "duration_h": 4},
       {"route": "oral", "time_h": 12, "amount_mg": 50, "every_h": 8, "additional_doses": 3,
        "bioavailability": 0.2, "ka_per_h": 1.0, "lag_h": 0.25}],
     "times_h": {"start": 0, "stop": 24, "step": 0.25}}

``times_h`` may be a list; ``model`` may be omitted (drug default) or be a custom-model
object, in which case ``drug`` may be omitted. Optional ``"norketamine"``: ``false`` to
switch the metabolite off, or an object of overrides (see
:class:`~painclinic.pharmacology.models.NorketamineParameters`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from painclinic.pharmacology.enums import Entry
from painclinic.pharmacology.errors import NeuraxialRouteError, PharmacologyInputError
from painclinic.pharmacology.models import (
    DEFAULT_MODEL,
    DRUGS,
    ModelParameters,
    ModelSpec,
    NorketamineParameters,
    get_model,
    parse_custom_model,
    parse_norketamine,
)
from painclinic.pharmacology.patient import Patient, parse_patient, positive_number
from painclinic.pharmacology.routes import (
    FIRST_ORDER,
    INTRAVENOUS,
    NEURAXIAL,
    ROUTE_DEFAULTS,
    Route,
    parse_route,
)

MAX_TIME_POINTS = 2_000_000


@dataclass(frozen=True)
class Dose:
    """One dose line of a regimen (before expansion of repeats).

    Attributes
    ----------
    route : Route
    time_h : float
        Start time (h) of the first administration.
    amount_mg : float or None
        Amount (mg) of a bolus/extravascular dose, or total amount of an infusion or
        transdermal release when given with ``duration_h``.
    rate_mg_per_h : float or None
        Zero-order rate (mg/h) of an infusion or transdermal release.
    duration_h : float or None
        Duration (h) of zero-order input (infusion time, patch wear time).
    every_h : float or None
        Dosing interval (h) for repeats.
    additional_doses : int
        Number of repeats after the first.
    bioavailability : float or None
        Override of the route's default F.
    ka_per_h : float or None
        Override of the default absorption rate constant (1/h).
    lag_h : float or None
        Override of the default absorption lag (h).
    first_pass_metabolite_fraction : float or None
        Override of the fraction converted presystemically to norketamine.
    """

    route: Route
    time_h: float
    amount_mg: float | None = None
    rate_mg_per_h: float | None = None
    duration_h: float | None = None
    every_h: float | None = None
    additional_doses: int = 0
    bioavailability: float | None = None
    ka_per_h: float | None = None
    lag_h: float | None = None
    first_pass_metabolite_fraction: float | None = None


@dataclass(frozen=True)
class Regimen:
    """A validated regimen.

    Attributes
    ----------
    drug : str or None
        ``"ketamine"``, ``"lidocaine"`` or None (custom model only).
    model : ModelSpec or ModelParameters
        A published model (covariate equations) or a custom parameter set.
    patient : Patient
    doses : tuple of Dose
    times_h : tuple of float
        Output times (h), strictly increasing.
    norketamine : NorketamineParameters or None
        Metabolite model (ketamine only; None = not modelled).
    """

    drug: str | None
    model: ModelSpec | ModelParameters
    patient: Patient
    doses: tuple[Dose, ...]
    times_h: tuple[float, ...]
    norketamine: NorketamineParameters | None = None

    @property
    def model_name(self) -> str:
        """Name of the published model, or ``"custom"``."""
        return self.model.name if isinstance(self.model, ModelSpec) else "custom"

    def model_parameters(self) -> ModelParameters:
        """Typical-patient parameters (evaluates the covariate equations)."""
        if isinstance(self.model, ModelSpec):
            return self.model.parameters(self.patient)
        return self.model


@dataclass(frozen=True)
class Input:
    """One expanded administration, in solver terms.

    ``entry`` is ``Entry.CENTRAL`` (IV, transdermal) or ``Entry.DEPOT`` (first-order
    absorption).
    A bolus has ``amount_mg`` and ``duration_h == 0``; zero-order input has
    ``rate_mg_per_h`` over ``duration_h``. ``start_h`` already includes the lag.
    For central input F is already applied to the amount/rate; for depot input F splits
    the depot outflow (fraction F to the central compartment, ``first_pass_fraction`` to
    the metabolite, the rest lost).
    """

    entry: Entry
    start_h: float
    amount_mg: float
    rate_mg_per_h: float
    duration_h: float
    bioavailability: float
    ka_per_h: float
    first_pass_fraction: float
    dose_index: int
    route: Route


def _number(d: Mapping[str, Any], key: str, path: str, *, allow_zero: bool = True) -> float | None:
    if d.get(key) is None:
        return None
    return positive_number(d[key], f"{path}.{key}", allow_zero=allow_zero)


_DOSE_KEYS = {
    "route",
    "time_h",
    "amount_mg",
    "rate_mg_per_h",
    "duration_h",
    "every_h",
    "additional_doses",
    "bioavailability",
    "ka_per_h",
    "lag_h",
    "first_pass_metabolite_fraction",
}


def parse_dose(data: Any, path: str, drug: str | None, custom: bool) -> Dose:
    """Validate one dose object; ``path`` is e.g. ``doses[2]``.

    Parameters
    ----------
    data : Any
        The dose object (route, ``time_h``, ``amount_mg`` or ``rate_mg_per_h`` with
        ``duration_h``, repeats, absorption overrides; see the module docstring).
    path : str
        Dotted path of the dose in the regimen, prefixed to every error's field.
    drug : str or None
        The regimen's drug (for route defaults and the lidocaine route rule).
    custom : bool
        True for a custom model (routes then need their own bioavailability and ka).

    Returns
    -------
    Dose

    Raises
    ------
    PharmacologyInputError
        ``.field`` names the culprit (``doses[2].duration_h``).
    """
    if not isinstance(data, Mapping):
        raise PharmacologyInputError(path, "must be an object")
    for key in data:
        if key not in _DOSE_KEYS:
            raise PharmacologyInputError(f"{path}.{key}", f"unknown field {sorted(_DOSE_KEYS)}")
    if data.get("route") is None:
        raise PharmacologyInputError(f"{path}.route", "is required")
    route = parse_route(data["route"])
    if route is None:
        raise PharmacologyInputError(
            f"{path}.route",
            f"unknown route {data['route']!r}; known: {', '.join(r.value for r in Route)}",
        )
    if route in NEURAXIAL:
        raise NeuraxialRouteError(f"{path}.route", route.value)
    if drug is not None and not custom and route not in ROUTE_DEFAULTS[drug]:
        raise PharmacologyInputError(
            f"{path}.route",
            f"route '{route.value}' has no validated defaults for {drug} "
            f"(supported: {', '.join(r.value for r in ROUTE_DEFAULTS[drug])})",
        )
    time_h = _number(data, "time_h", path)
    if time_h is None:
        raise PharmacologyInputError(f"{path}.time_h", "is required")
    amount = _number(data, "amount_mg", path, allow_zero=False)
    rate = _number(data, "rate_mg_per_h", path, allow_zero=False)
    duration = _number(data, "duration_h", path, allow_zero=False)
    zero_order = route in (Route.IV_INFUSION, Route.TRANSDERMAL) or duration is not None
    if route == Route.IV_BOLUS and (rate is not None or duration is not None):
        raise PharmacologyInputError(
            f"{path}.route", "iv_bolus takes amount_mg only; use iv_infusion for a rate/duration"
        )
    if zero_order:
        if duration is None:
            raise PharmacologyInputError(
                f"{path}.duration_h",
                f"is required for {route.value} (zero-order input needs a duration)",
            )
        if amount is None and rate is None:
            raise PharmacologyInputError(
                f"{path}.rate_mg_per_h", "rate_mg_per_h or amount_mg is required"
            )
        if (
            amount is not None
            and rate is not None
            and not math.isclose(amount, rate * duration, rel_tol=1e-9)
        ):
            raise PharmacologyInputError(
                f"{path}.amount_mg",
                f"{amount:g} mg disagrees with rate_mg_per_h × duration_h = "
                f"{rate * duration:g} mg (give one of them)",
            )
        if rate is None:
            assert amount is not None
            rate = amount / duration
        amount = rate * duration
    else:
        if amount is None:
            raise PharmacologyInputError(f"{path}.amount_mg", "is required")
        if rate is not None:
            raise PharmacologyInputError(
                f"{path}.rate_mg_per_h", "needs duration_h (zero-order input)"
            )
    every = _number(data, "every_h", path, allow_zero=False)
    extra_raw = data.get("additional_doses", 0)
    if isinstance(extra_raw, bool) or not isinstance(extra_raw, int) or extra_raw < 0:
        raise PharmacologyInputError(f"{path}.additional_doses", "must be a non-negative integer")
    if extra_raw > 0 and every is None:
        raise PharmacologyInputError(f"{path}.every_h", "is required with additional_doses")
    f = _number(data, "bioavailability", path, allow_zero=False)
    if f is not None and f > 1:
        raise PharmacologyInputError(f"{path}.bioavailability", "must be in (0, 1]")
    ka = _number(data, "ka_per_h", path, allow_zero=False)
    lag = _number(data, "lag_h", path)
    fpm = _number(data, "first_pass_metabolite_fraction", path)
    if route in INTRAVENOUS:
        for key, value in (("bioavailability", f), ("ka_per_h", ka), ("lag_h", lag)):
            if value is not None and not (key == "bioavailability" and value == 1):
                raise PharmacologyInputError(
                    f"{path}.{key}", f"does not apply to intravenous route {route.value}"
                )
    if fpm is not None and (f or 0) + fpm > 1 + 1e-12:
        raise PharmacologyInputError(
            f"{path}.first_pass_metabolite_fraction", "bioavailability + this fraction exceeds 1"
        )
    return Dose(
        route=route,
        time_h=time_h,
        amount_mg=amount,
        rate_mg_per_h=rate if zero_order else None,
        duration_h=duration if zero_order else None,
        every_h=every,
        additional_doses=int(extra_raw),
        bioavailability=f,
        ka_per_h=ka,
        lag_h=lag,
        first_pass_metabolite_fraction=fpm,
    )


def parse_times(data: Any, path: str = "times_h") -> tuple[float, ...]:
    """Parse ``{"start", "stop", "step"}`` or a list of times (h) into an increasing tuple.

    Parameters
    ----------
    data : Any
        ``{"start", "stop", "step"}`` in hours (``stop`` included when on the grid) or a
        strictly increasing list of times (h).
    path : str
        Dotted path named by errors.

    Returns
    -------
    tuple of float
        Output times (h).
    """
    if isinstance(data, Mapping):
        start = positive_number(data.get("start", 0), f"{path}.start", allow_zero=True)
        stop = positive_number(data.get("stop"), f"{path}.stop", allow_zero=True)
        step = positive_number(data.get("step"), f"{path}.step")
        if stop < start:
            raise PharmacologyInputError(f"{path}.stop", "must be ≥ start")
        n = math.floor((stop - start) / step + 1e-9) + 1
        if n > MAX_TIME_POINTS:
            raise PharmacologyInputError(path, f"more than {MAX_TIME_POINTS} time points")
        return tuple((start + step * np.arange(n, dtype=np.float64)).tolist())
    if isinstance(data, list | tuple):
        if not data:
            raise PharmacologyInputError(path, "must not be empty")
        times = tuple(
            positive_number(v, f"{path}[{i}]", allow_zero=True) for i, v in enumerate(data)
        )
        for i in range(1, len(times)):
            if times[i] <= times[i - 1]:
                raise PharmacologyInputError(f"{path}[{i}]", "times must be strictly increasing")
        return times
    raise PharmacologyInputError(path, "must be {start, stop, step} or a list of times")


_REGIMEN_KEYS = {"drug", "model", "patient", "doses", "times_h", "norketamine"}


def parse_regimen(data: Any) -> Regimen:
    """Validate a regimen dict (or JSON text) and return a :class:`Regimen`.

    Parameters
    ----------
    data : dict, JSON str or Regimen
        The regimen (format in the module docstring).

    Returns
    -------
    Regimen

    Raises
    ------
    PharmacologyInputError
        With ``.field`` naming the bad input (malformed JSON → field ``"regimen"``).
    NeuraxialRouteError
        For intrathecal or epidural doses.
    """
    if isinstance(data, Regimen):
        return data
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise PharmacologyInputError("regimen", f"malformed JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise PharmacologyInputError("regimen", "must be a JSON object")
    for key in data:
        if key not in _REGIMEN_KEYS:
            raise PharmacologyInputError(key, f"unknown field (expected {sorted(_REGIMEN_KEYS)})")
    raw_drug = data.get("drug")
    drug: str | None = None
    if raw_drug is not None:
        drug = str(raw_drug).strip().lower()
        if drug not in DRUGS:
            raise PharmacologyInputError("drug", f"unknown drug {raw_drug!r}; known: {DRUGS}")
    raw_model = data.get("model")
    model: ModelSpec | ModelParameters
    custom = isinstance(raw_model, Mapping)
    if custom:
        assert isinstance(raw_model, Mapping)
        model = parse_custom_model(raw_model)
    else:
        if drug is None:
            raise PharmacologyInputError(
                "drug", "is required unless a custom model object is given"
            )
        model = get_model(raw_model if raw_model is not None else DEFAULT_MODEL[drug])
        if model.drug != drug:
            raise PharmacologyInputError(
                "model", f"model '{model.name}' is a {model.drug} model, not {drug}"
            )
    patient = parse_patient(data.get("patient"))
    if isinstance(model, ModelSpec) and model.requires_weight and patient.weight_kg is None:
        raise PharmacologyInputError(
            "patient.weight_kg", f"is required by the weight-based model '{model.name}'"
        )
    raw_doses = data.get("doses")
    if not isinstance(raw_doses, list) or not raw_doses:
        raise PharmacologyInputError("doses", "must be a non-empty list")
    doses = tuple(parse_dose(d, f"doses[{i}]", drug, custom) for i, d in enumerate(raw_doses))
    if data.get("times_h") is None:
        raise PharmacologyInputError("times_h", "is required")
    times = parse_times(data["times_h"])
    norket: NorketamineParameters | None = None
    raw_nk = data.get("norketamine")
    if raw_nk is None and drug == "ketamine" and patient.weight_kg is not None:
        raw_nk = True  # on by default when the metabolite volume (per kg) can be computed
    if raw_nk is not False and raw_nk is not None:
        if drug != "ketamine":
            raise PharmacologyInputError("norketamine", "applies to ketamine only")
        if patient.weight_kg is None:
            raise PharmacologyInputError(
                "patient.weight_kg", "is required for the norketamine model (volume per kg)"
            )
        norket = parse_norketamine(raw_nk)
    return Regimen(
        drug=drug, model=model, patient=patient, doses=doses, times_h=times, norketamine=norket
    )


def expand_inputs(regimen: Regimen) -> tuple[list[Input], list[str]]:
    """Expand repeats and fill route defaults; return solver inputs and assumption warnings.

    Parameters
    ----------
    regimen : Regimen
        A validated regimen (its doses, model and norketamine settings).

    Returns
    -------
    inputs : list of Input
    warnings : list of str
        One line per dose whose absorption parameters fell back to assumed defaults.
    """
    params = regimen.model_parameters()
    inputs: list[Input] = []
    warnings: list[str] = []
    for i, dose in enumerate(regimen.doses):
        path = f"doses[{i}]"
        defaults = ROUTE_DEFAULTS[regimen.drug].get(dose.route) if regimen.drug else None
        if dose.route in INTRAVENOUS:
            f, ka, lag = 1.0, 0.0, 0.0
        else:
            f_raw = dose.bioavailability
            if f_raw is None:
                if defaults is None:
                    raise PharmacologyInputError(
                        f"{path}.bioavailability",
                        "is required for an extravascular route without drug defaults",
                    )
                f_raw = defaults.bioavailability
                warnings.append(f"{path}: bioavailability {f_raw:g} by default ({defaults.source})")
            f = f_raw
            lag = dose.lag_h if dose.lag_h is not None else (defaults.lag_h if defaults else 0.0)
            ka = 0.0
            if dose.route in FIRST_ORDER:
                ka_raw = dose.ka_per_h
                if ka_raw is None:
                    ka_raw = params.ka_per_h
                if ka_raw is None and defaults is not None and defaults.ka_per_h is not None:
                    ka_raw = defaults.ka_per_h
                    warnings.append(
                        f"{path}: ka {ka_raw:g} /h and lag {lag:g} h are assumptions "
                        f"(no published value in the clinical reference); override per dose"
                    )
                if ka_raw is None:
                    raise PharmacologyInputError(
                        f"{path}.ka_per_h", "is required for first-order absorption"
                    )
                ka = ka_raw
        fpm = 0.0
        if regimen.norketamine is not None and dose.route in FIRST_ORDER:
            fpm = (
                dose.first_pass_metabolite_fraction
                if dose.first_pass_metabolite_fraction is not None
                else regimen.norketamine.first_pass_fraction.get(dose.route.value, 0.0)
            )
            if f + fpm > 1 + 1e-12:
                raise PharmacologyInputError(
                    f"{path}.first_pass_metabolite_fraction",
                    f"bioavailability {f:g} + first-pass fraction {fpm:g} exceeds 1",
                )
        entry = Entry.DEPOT if dose.route in FIRST_ORDER else Entry.CENTRAL
        n = 1 + dose.additional_doses
        for k in range(n):
            start = dose.time_h + k * (dose.every_h or 0.0) + lag
            if dose.duration_h is not None:
                assert dose.rate_mg_per_h is not None
                scale = f if entry is Entry.CENTRAL else 1.0
                inputs.append(
                    Input(
                        entry,
                        start,
                        0.0,
                        dose.rate_mg_per_h * scale,
                        dose.duration_h,
                        f,
                        ka,
                        fpm,
                        i,
                        dose.route,
                    )
                )
            else:
                assert dose.amount_mg is not None
                scale = f if entry is Entry.CENTRAL else 1.0
                inputs.append(
                    Input(entry, start, dose.amount_mg * scale, 0.0, 0.0, f, ka, fpm, i, dose.route)
                )
    return inputs, warnings
