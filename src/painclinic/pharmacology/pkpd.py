"""Pain relief after a CRPS ketamine series: the Dahan 2011 PK-PD model.

Dahan A, Olofsen E, Sigtermans M, et al. *Population pharmacokinetic-pharmacodynamic
modeling of ketamine-induced pain relief of chronic pain.* Eur J Pain 2011;15:258-267.
doi:10.1016/j.ejpain.2010.06.016 [S]. S(+)-ketamine 100-h infusion in CRPS-1: C50
10.5 ± 4.8 ng/mL; onset/offset half-life of analgesia 10.9 ± 4.0 days, i.e. relief is
driven by a *slow effect compartment* (it outlasted the infusion by ~50 days), not by the
plasma concentration.

Implementation
--------------
The regimen's plasma concentration (its own PK model) drives an effect compartment with
``ke0 = ln 2 / (10.9 days)``, solved exactly (sums of exponentials). Relief fraction:
``R = Ce^γ / (C50^γ + Ce^γ)``.

Assumptions (documented, overridable):

- ``emax`` = 1 (relief expressed as a fraction of the maximum; assumption);
- ``gamma`` = 1 (Hill coefficient not retrieved; assumption);
- racemic ketamine: the S(+)-enantiomer concentration is taken as 0.5 × the racemic
  concentration (equal enantiomer kinetics; assumption). S-ketamine is about twice as
  potent as racemic (Bell 2009 [S]), so doses must not be carried over 1:1;
- Dahan's PK came from the Sigtermans S-ketamine study, not from the models here, so the
  prediction combines models built on different data (an extrapolation, stated in the
  result's warnings).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from painclinic.pharmacology.enums import OutputKind
from painclinic.pharmacology.errors import PharmacologyInputError
from painclinic.pharmacology.regimen import Regimen, expand_inputs, parse_regimen
from painclinic.pharmacology.simulation import batch_from_parameters
from painclinic.pharmacology.solver import solve

FloatArray = NDArray[np.float64]

#: Dahan 2011 [S]: C50 of S(+)-ketamine (ng/mL).
DAHAN_C50_NG_PER_ML = 10.5
#: Dahan 2011 [S]: onset/offset half-life of analgesia (days).
DAHAN_T_HALF_DAYS = 10.9
#: Assumption: fraction of racemic ketamine concentration that is S(+)-ketamine.
S_FRACTION_OF_RACEMIC = 0.5


@dataclass(frozen=True, eq=False)
class ReliefPrediction:
    """Predicted relief over time.

    Attributes
    ----------
    times_h : ndarray
        Time from the start of the regimen (h).
    series_end_h : float
        End of the last dose of the series (h).
    effect_ng_per_ml : ndarray
        Effect-compartment S(+)-ketamine-equivalent concentration (ng/mL).
    relief_fraction : ndarray
        Predicted relief, 0-1 (fraction of maximal relief).
    warnings : tuple of str
    """

    times_h: FloatArray
    series_end_h: float
    effect_ng_per_ml: FloatArray
    relief_fraction: FloatArray
    warnings: tuple[str, ...]

    def relief_at_weeks_after(self, weeks: float) -> float:
        """Relief fraction ``weeks`` after the end of the series (linear interpolation)."""
        t = self.series_end_h + weeks * 7 * 24
        return float(np.interp(t, self.times_h, self.relief_fraction))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "times_h": [float(x) for x in self.times_h],
            "series_end_h": self.series_end_h,
            "effect_ng_per_ml": [float(x) for x in self.effect_ng_per_ml],
            "relief_fraction": [float(x) for x in self.relief_fraction],
            "warnings": list(self.warnings),
        }


def predict_crps_relief(
    regimen: Regimen | Mapping[str, Any] | str,
    *,
    weeks_after: float = 12.0,
    step_h: float = 6.0,
    c50_ng_per_ml: float = DAHAN_C50_NG_PER_ML,
    t_half_days: float = DAHAN_T_HALF_DAYS,
    gamma: float = 1.0,
    emax: float = 1.0,
    s_fraction: float = S_FRACTION_OF_RACEMIC,
) -> ReliefPrediction:
    """Predicted relief fraction from the start of a series to ``weeks_after`` its end.

    Parameters
    ----------
    regimen : Regimen, dict or JSON str
        A ketamine regimen (the series); its ``times_h`` is ignored.
    weeks_after : float
        Horizon after the end of the last dose (weeks); default 12.
    step_h : float
        Output step (h).
    c50_ng_per_ml : float
        S(+)-ketamine C50 (ng/mL); Dahan 2011: 10.5 [S].
    t_half_days : float
        Onset/offset half-life of the effect compartment (days); Dahan 2011: 10.9 [S].
    gamma : float
        Hill coefficient (assumption 1).
    emax : float
        Maximal relief fraction (assumption 1).
    s_fraction : float
        S(+)-ketamine fraction of the racemic concentration (assumption 0.5; use 1 for
        an S-ketamine regimen).

    Returns
    -------
    ReliefPrediction

    Raises
    ------
    PharmacologyInputError
        Not a ketamine regimen, or a non-positive parameter.
    """
    reg = parse_regimen(regimen)
    if reg.drug not in ("ketamine", None):
        raise PharmacologyInputError("drug", "the Dahan 2011 model applies to ketamine only")
    for name, value in (
        ("weeks_after", weeks_after),
        ("step_h", step_h),
        ("c50_ng_per_ml", c50_ng_per_ml),
        ("t_half_days", t_half_days),
        ("gamma", gamma),
        ("emax", emax),
        ("s_fraction", s_fraction),
    ):
        if not math.isfinite(value) or value <= 0:
            raise PharmacologyInputError(name, "must be positive")
    if emax > 1 or s_fraction > 1:
        raise PharmacologyInputError("emax" if emax > 1 else "s_fraction", "must be ≤ 1")
    inputs, _ = expand_inputs(reg)
    series_end = max(i.start_h + i.duration_h for i in inputs)
    stop = series_end + weeks_after * 7 * 24
    n = math.floor(stop / step_h + 1e-9) + 1
    grid = step_h * np.arange(n, dtype=np.float64)
    times: FloatArray = np.append(grid, stop) if grid[-1] < stop else grid
    ke0 = math.log(2.0) / (t_half_days * 24.0)
    params = replace(reg.model_parameters(), ke0_per_h=ke0)
    bp = batch_from_parameters(params, reg.patient.weight_kg)
    ce_mg_per_l = np.maximum(solve(bp, inputs, times, OutputKind.EFFECT)[0], 0.0)
    ce = ce_mg_per_l * 1000.0 * s_fraction
    relief = emax * ce**gamma / (c50_ng_per_ml**gamma + ce**gamma)
    warnings = [
        "Dahan 2011 PK-PD (S-ketamine, CRPS-1, 100-h infusion) combined with this regimen's "
        f"PK model '{reg.model_name}': an extrapolation",
        f"assumptions: emax {emax:g}, gamma {gamma:g}, S-fraction {s_fraction:g} of racemic",
    ]
    return ReliefPrediction(
        times_h=times,
        series_end_h=series_end,
        effect_ng_per_ml=ce,
        relief_fraction=relief,
        warnings=tuple(warnings),
    )
