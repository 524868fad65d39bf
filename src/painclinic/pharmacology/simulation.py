"""Single-patient simulation: :func:`simulate` and :class:`SimulationResult`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from painclinic.pharmacology.enums import OutputKind
from painclinic.pharmacology.models import ModelParameters, ModelSpec
from painclinic.pharmacology.regimen import Input, Regimen, expand_inputs, parse_regimen
from painclinic.pharmacology.routes import Route
from painclinic.pharmacology.solver import BatchParameters, disposition_rates, solve

FloatArray = NDArray[np.float64]

LIDOCAINE_TIME_DEPENDENCE_H = 24.0


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Concentrations of one patient over time.

    Attributes
    ----------
    times_h : ndarray
        Output times (h).
    plasma_mg_per_l : ndarray
        Parent plasma concentration (mg/L = mcg/mL), right-continuous at dose times.
    effect_site_mg_per_l : ndarray or None
        Effect-site concentration (mg/L) when the model has a ke0.
    metabolite_mg_per_l : ndarray or None
        Norketamine plasma concentration (mg/L of norketamine) for ketamine regimens.
    warnings : tuple of str
        Validity-range, assumption and extrapolation warnings.
    drug : str or None
    model : str
    parameters : ModelParameters
        Typical parameters used for this patient.
    dose_times_h : tuple of float
        Absorption start of every administration (dose time + lag), repeats expanded.
    """

    times_h: FloatArray
    plasma_mg_per_l: FloatArray
    effect_site_mg_per_l: FloatArray | None
    metabolite_mg_per_l: FloatArray | None
    warnings: tuple[str, ...]
    drug: str | None
    model: str
    parameters: ModelParameters
    dose_times_h: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: times, concentrations (null where not modelled), warnings."""

        def arr(a: FloatArray | None) -> list[float] | None:
            return None if a is None else [float(x) for x in a]

        return {
            "drug": self.drug,
            "model": self.model,
            "times_h": arr(self.times_h),
            "plasma_mg_per_l": arr(self.plasma_mg_per_l),
            "effect_site_mg_per_l": arr(self.effect_site_mg_per_l),
            "metabolite_mg_per_l": arr(self.metabolite_mg_per_l),
            "warnings": list(self.warnings),
        }


def batch_from_parameters(
    params: ModelParameters, weight_kg: float | None, n: int = 1
) -> BatchParameters:
    """Replicate one parameter set into a :class:`BatchParameters` of ``n`` patients.

    Parameters
    ----------
    params : ModelParameters
        Clearances (L/h), volumes (L), ke0 (1/h) of one patient.
    weight_kg : float or None
        Body weight (kg), needed for the norketamine volume; None when unknown.
    n : int
        Number of identical patients.

    Returns
    -------
    BatchParameters
        Every attribute an array of shape ``(n,)``; ``ka_factor`` is 1.
    """

    def col(v: float) -> FloatArray:
        return np.full(n, float(v))

    return BatchParameters(
        compartments=params.compartments,
        cl_l_per_h=col(params.cl_l_per_h),
        v1_l=col(params.v1_l),
        q2_l_per_h=col(params.q2_l_per_h),
        v2_l=col(params.v2_l),
        q3_l_per_h=col(params.q3_l_per_h),
        v3_l=col(params.v3_l),
        ke0_per_h=None if params.ke0_per_h is None else col(params.ke0_per_h),
        ka_factor=col(1.0),
        weight_kg=None if weight_kg is None else col(weight_kg),
    )


def regimen_warnings(regimen: Regimen, inputs: list[Input]) -> list[str]:
    """Model-validity and drug-specific warnings for a regimen.

    Parameters
    ----------
    regimen : Regimen
        The validated regimen (model, patient covariates, drug).
    inputs : list of Input
        Its expanded administrations (:func:`~painclinic.pharmacology.regimen.expand_inputs`).

    Returns
    -------
    list of str
        Covariates outside the model's validity range, extrapolations, long lidocaine
        infusions, norketamine switched off.
    """
    out: list[str] = []
    if isinstance(regimen.model, ModelSpec):
        out.extend(regimen.model.validity_warnings(regimen.patient))
        if regimen.model.name == "domino":
            out.append(
                "effect site: Domino ke0 0.652 /min is opentiva's estimate, not a published value"
            )
        if regimen.model.name == "kamp":
            out.append(
                "model 'kamp' is a one-compartment reduction of a meta-analysis (assumption); "
                "early post-bolus concentrations are underestimated"
            )
    else:
        out.append("custom model: parameters are the user's responsibility (no validity ranges)")
    if regimen.drug == "lidocaine":
        for inp in inputs:
            if inp.route == Route.IV_INFUSION and inp.duration_h > LIDOCAINE_TIME_DEPENDENCE_H:
                out.append(
                    f"doses[{inp.dose_index}]: lidocaine infusion longer than 24 h; clearance "
                    "falls with time (half-life ~100 min → 3.22 h after 24 h [S2]) and the model "
                    "will underpredict"
                )
                break
    if regimen.drug == "ketamine" and regimen.norketamine is None:
        out.append("norketamine not modelled (switched off, or no patient.weight_kg)")
    if regimen.norketamine is not None:
        out.append(
            "norketamine: fraction metabolised, volume and first-pass fraction are assumptions "
            "(see docs/pharmacology.md); half-life 12 h [S2]"
        )
    return out


def simulate(regimen: Regimen | Mapping[str, Any] | str) -> SimulationResult:
    """Simulate one patient exactly (closed-form sums of exponentials).

    Parameters
    ----------
    regimen : Regimen, dict or JSON str
        See :mod:`painclinic.pharmacology.regimen` for the format.

    Returns
    -------
    SimulationResult
        Plasma (mg/L), effect-site (mg/L, if the model has ke0) and norketamine (mg/L,
        ketamine only) concentrations at ``times_h``, with warnings.

    Raises
    ------
    PharmacologyInputError
        For invalid regimens; ``.field`` names the culprit.

    Notes
    -----
    The solution is exact for linear models (see :mod:`painclinic.pharmacology.solver`);
    at a dose time the value just after the dose is reported.

    Examples
    --------
    >>> r = simulate({"drug": "ketamine", "model": "domino", "patient": {"weight_kg": 70},
    ...               "doses": [{"route": "iv_infusion", "time_h": 0, "rate_mg_per_h": 24.5,
    ...                          "duration_h": 4}], "times_h": [0, 4]})
    >>> float(r.plasma_mg_per_l[0])
    0.0
    """
    reg = parse_regimen(regimen)
    params = reg.model_parameters()
    inputs, route_warnings = expand_inputs(reg)
    times = np.asarray(reg.times_h, dtype=float)
    bp = batch_from_parameters(params, reg.patient.weight_kg)
    disp = disposition_rates(bp)
    plasma = solve(bp, inputs, times, OutputKind.PLASMA, disposition=disp)[0]
    effect = (
        None
        if params.ke0_per_h is None
        else solve(bp, inputs, times, OutputKind.EFFECT, disposition=disp)[0]
    )
    metabolite = (
        None
        if reg.norketamine is None
        else solve(
            bp,
            inputs,
            times,
            OutputKind.METABOLITE,
            norketamine=reg.norketamine,
            disposition=disp,
        )[0]
    )
    for arr in (plasma, effect, metabolite):
        if arr is not None:  # remove round-off below zero (e.g. -1e-17 before a dose)
            np.maximum(arr, 0.0, out=arr)
    warnings = regimen_warnings(reg, inputs) + route_warnings
    if inputs and max(i.start_h + i.duration_h for i in inputs) > times[-1]:
        warnings.append("some doses fall after the last output time")
    dose_times = tuple(sorted({i.start_h for i in inputs}))
    return SimulationResult(
        times_h=times,
        plasma_mg_per_l=plasma,
        effect_site_mg_per_l=effect,
        metabolite_mg_per_l=metabolite,
        warnings=tuple(warnings),
        drug=reg.drug,
        model=reg.model_name,
        parameters=params,
        dose_times_h=dose_times,
    )
