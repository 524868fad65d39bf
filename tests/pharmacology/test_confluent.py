"""Coincident and nearly coincident rate constants against independent references.

References, none of which shares code with the solver:

- closed forms for one compartment: ``ka = k`` gives ``C = F·D·k·t·e^{−kt}/V``, and
  ``ka = ke0 = k`` gives the effect site ``Ce = F·D·k²·t²/2·e^{−kt}/V``; for nearly equal
  rates the Bateman function written with ``expm1`` (no cancellation);
- ``scipy.linalg.expm`` of the whole system matrix (Padé, handles the defective case);
- ``scipy.integrate.solve_ivp`` (Radau, ``rtol = 1e-12``, ``atol = 1e-16``) of the
  compartment ODEs (on a representative subset of the cases: Radau is slow at that
  tolerance).

Tolerances. The solver reproduces the closed forms and ``expm`` to about 1e-14 relative
(measured: ≤ 7e-14), so those comparisons use ``rtol = 1e-12``. Radau at ``rtol = 1e-12``
carries its own global error (measured: ≤ 3e-13 against ``expm``; DOP853 and LSODA at the
same settings were 1e-11 to 5e-10 off), so comparisons with it use ``rtol = 1e-10``.
``atol`` is 1e-13 of the peak: it matters only at ``t = 0`` (both zero) and just outside
the confluent window, where the partial fractions' cancellation error is bounded by
``ε/CONFLUENT_RTOL ≈ 2e-14`` of the peak.

The previous solver moved a coincident rate by a relative 2e-7 and missed these references
by 2e-7 (by 2e-3 for three equal rates), so the coincident cases below would have failed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from painclinic.pharmacology import simulate
from painclinic.pharmacology.enums import OutputKind
from painclinic.pharmacology.regimen import expand_inputs, parse_regimen
from painclinic.pharmacology.simulation import batch_from_parameters
from painclinic.pharmacology.solver import CONFLUENT_RTOL, BatchParameters, solve

from .reference_ode import reference

EXACT_RTOL = 1e-12  # closed forms and expm
ODE_RTOL = 1e-10  # Radau at rtol 1e-12
ODE_CASES = {0.0, 1.001 * CONFLUENT_RTOL}  # offsets also checked with Radau (slow at 1e-12)
GRID = {"start": 0, "stop": 24, "step": 0.05}
TIMES = 0.05 * np.arange(481)
# just inside and just outside the confluent window, and well inside it
C = CONFLUENT_RTOL
NEAR = [0.0, 1e-14, 1e-12, 1e-9, 1e-6, 1e-4, 0.999 * C, 1.001 * C, -0.999 * C, -1.001 * C]

TWO_CPT = {"compartments": 2, "cl_l_per_h": 40, "v1_l": 15, "q2_l_per_h": 60, "v2_l": 80}
THREE_CPT = TWO_CPT | {"compartments": 3, "q3_l_per_h": 8, "v3_l": 150}


def close(actual: np.ndarray, expected: np.ndarray, rtol: float, msg: str = "") -> None:
    atol = 1e-13 * float(np.max(np.abs(expected)))
    assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=msg)


def oral(model: dict[str, Any], ka: float, *, amount: float = 40.0, f: float = 0.6) -> Any:
    return simulate(
        {
            "model": model | {"ka_per_h": ka},
            "doses": [
                {"route": "oral", "time_h": 0, "amount_mg": amount, "bioavailability": f}
                | {"lag_h": 0}
            ],
            "times_h": GRID,
        }
    )


# --- one compartment: closed forms -----------------------------------------------------------


@pytest.mark.parametrize("rel", NEAR)
def test_one_compartment_ka_at_and_near_k_matches_the_closed_form(rel: float) -> None:
    k, v, dose = 0.2, 30.0, 50.0
    ka = k * (1 + rel)
    r = oral({"compartments": 1, "cl_l_per_h": k * v, "v1_l": v}, ka, amount=dose, f=1.0)
    t = TIMES
    d = ka - k
    with np.errstate(invalid="ignore", divide="ignore"):
        # (e^{-kt} - e^{-ka t})/(ka - k) = t e^{-kt} (1 - e^{-dt})/(dt), -> t e^{-kt} as d -> 0
        shape = np.where(d * t == 0, 1.0, -np.expm1(-d * t) / (d * t))
    expected = dose * ka / v * t * np.exp(-k * t) * shape
    close(r.plasma_mg_per_l, expected, EXACT_RTOL, f"rel {rel}")


def test_ka_ke0_and_k_all_equal_give_the_t_squared_term() -> None:
    k, v, dose = 0.2, 30.0, 50.0
    model = {"compartments": 1, "cl_l_per_h": k * v, "v1_l": v, "ke0_per_h": k}
    r = oral(model, k, amount=dose, f=1.0)
    t = TIMES
    close(r.plasma_mg_per_l, dose * k / v * t * np.exp(-k * t), EXACT_RTOL)
    assert r.effect_site_mg_per_l is not None
    expected = dose * k * k / v * t**2 / 2 * np.exp(-k * t)
    close(r.effect_site_mg_per_l, expected, EXACT_RTOL)


# --- multi-compartment: expm and solve_ivp ---------------------------------------------------


def system(model: dict[str, Any], ka: float, f: float) -> np.ndarray:
    """dx/dt = A x for (central, peripheral 2, peripheral 3, depot, effect-site conc.)."""
    v1 = model["v1_l"]
    k10 = model["cl_l_per_h"] / v1
    k12 = model.get("q2_l_per_h", 0) / v1
    k21 = model.get("q2_l_per_h", 0) / model["v2_l"] if "v2_l" in model else 0.0
    k13 = model.get("q3_l_per_h", 0) / v1
    k31 = model.get("q3_l_per_h", 0) / model["v3_l"] if "v3_l" in model else 0.0
    ke0 = model.get("ke0_per_h") or 0.0
    a = np.zeros((5, 5))
    a[0, 0], a[0, 1], a[0, 2], a[0, 3] = -(k10 + k12 + k13), k21, k31, f * ka
    a[1, 0], a[1, 1] = k12, -k21
    a[2, 0], a[2, 2] = k13, -k31
    a[3, 3] = -ka
    a[4, 0], a[4, 4] = ke0 / v1, -ke0
    return a


def eigen_rates(model: dict[str, Any]) -> list[float]:
    """Disposition rates from numpy's eigenvalues (not the solver's cubic)."""
    n = model["compartments"]
    a = system(model, 1.0, 1.0)[:n, :n]
    return sorted(float(-x) for x in np.linalg.eigvals(a).real)


def references(
    model: dict[str, Any], ka: float, f: float, dose: float, *, ode: bool = True
) -> dict[str, Any]:
    """(plasma mg/L, effect-site mg/L) after an oral dose, by expm and (if ``ode``) Radau."""
    a = system(model, ka, f)
    x0 = np.zeros(5)
    x0[3] = dose
    by_expm = np.array([expm(a * t) @ x0 for t in TIMES])
    v1 = model["v1_l"]
    out = {"expm": (by_expm[:, 0] / v1, by_expm[:, 4])}
    if not ode:
        return out
    sol = solve_ivp(
        lambda t, x: a @ x,
        (0.0, float(TIMES[-1])),
        x0,
        method="Radau",
        rtol=1e-12,
        atol=1e-16,
        t_eval=TIMES,
        jac=lambda t, x: a,
    )
    assert sol.success
    out["ivp"] = (sol.y[0] / v1, sol.y[4])
    return out


MODES = [(TWO_CPT, 0), (TWO_CPT, 1), (THREE_CPT, 0), (THREE_CPT, 1), (THREE_CPT, 2)]


@pytest.mark.parametrize("rel", NEAR)
@pytest.mark.parametrize(
    ("model", "which"), MODES, ids=[f"{m['compartments']}-cpt-rate-{i}" for m, i in MODES]
)
def test_ka_at_and_near_each_disposition_rate(
    model: dict[str, Any], which: int, rel: float
) -> None:
    rates = eigen_rates(model)
    model = model | {"ke0_per_h": 3.0}
    ka = rates[which] * (1 + rel)
    r = oral(model, ka)
    refs = references(model, ka, 0.6, 40.0, ode=rel in ODE_CASES)
    assert r.effect_site_mg_per_l is not None
    for name, rtol in (("expm", EXACT_RTOL), ("ivp", ODE_RTOL)):
        if name not in refs:
            continue
        plasma, effect = refs[name]
        close(r.plasma_mg_per_l, plasma, rtol, f"plasma vs {name}")
        close(r.effect_site_mg_per_l, effect, rtol, f"effect vs {name}")


@pytest.mark.parametrize("rel", [0.0, 1e-10, 1e-5])
def test_ka_and_ke0_both_at_a_disposition_rate(rel: float) -> None:
    lam = eigen_rates(THREE_CPT)[1]
    model = THREE_CPT | {"ke0_per_h": lam * (1 - rel)}
    r = oral(model, lam * (1 + rel))
    refs = references(model, lam * (1 + rel), 0.6, 40.0, ode=rel == 0.0)
    assert r.effect_site_mg_per_l is not None
    for name, rtol in (("expm", EXACT_RTOL), ("ivp", ODE_RTOL)):
        if name not in refs:
            continue
        plasma, effect = refs[name]
        close(r.plasma_mg_per_l, plasma, rtol, f"plasma vs {name}")
        close(r.effect_site_mg_per_l, effect, rtol, f"effect vs {name}")


# --- dosing patterns, metabolite, k21 == k31: solve_ivp with one depot per dose ---------------


def compare_with_ode(regimen: dict[str, Any]) -> None:
    reg = parse_regimen(regimen)
    result = simulate(regimen)
    inputs, _ = expand_inputs(reg)
    ref = reference(
        reg.model_parameters(),
        inputs,
        result.times_h,
        norketamine=reg.norketamine,
        weight_kg=reg.patient.weight_kg,
        method="Radau",
        rtol=1e-12,
        atol=1e-16,
    )
    got = {
        "plasma": result.plasma_mg_per_l,
        "effect": result.effect_site_mg_per_l,
        "metabolite": result.metabolite_mg_per_l,
    }
    for name, expected in ref.items():
        actual = got[name]
        assert actual is not None
        close(actual, expected, ODE_RTOL, name)


@pytest.mark.parametrize("grid", ["uniform", "list"])
def test_repeated_doses_and_a_depot_infusion_with_ka_at_a_disposition_rate(grid: str) -> None:
    lam = eigen_rates(THREE_CPT)[0]
    times: Any = {"start": 0, "stop": 30, "step": 0.1}
    if grid == "list":
        times = [0, 0.05, 0.3, 1, 2.5, 4, 4.2, 7, 9.99, 12, 17, 23, 30]
    compare_with_ode(
        {
            "model": THREE_CPT | {"ke0_per_h": 2.0, "ka_per_h": lam},
            "doses": [
                {"route": "oral", "time_h": 0.5, "amount_mg": 30, "bioavailability": 0.7}
                | {"lag_h": 0.25, "every_h": 4, "additional_doses": 3},
                {"route": "subcutaneous", "time_h": 1, "rate_mg_per_h": 5, "duration_h": 6}
                | {"bioavailability": 0.9, "lag_h": 0},
                {"route": "iv_bolus", "time_h": 2, "amount_mg": 10},
            ],
            "times_h": times,
        }
    )


def test_absorption_equal_to_norketamine_elimination_with_first_pass() -> None:
    km = math.log(2.0) / 9.0
    compare_with_ode(
        {
            "drug": "ketamine",
            "model": "clements",
            "patient": {"weight_kg": 70, "age_years": 45},
            "norketamine": {"half_life_h": 9, "first_pass_fraction": {"oral": 0.4}},
            "doses": [
                {"route": "oral", "time_h": 0, "amount_mg": 50, "ka_per_h": km, "lag_h": 0}
                | {"every_h": 8, "additional_doses": 2}
            ],
            "times_h": {"start": 0, "stop": 48, "step": 0.25},
        }
    )


def test_equal_peripheral_rate_constants_need_no_perturbation() -> None:
    # k21 = Q2/V2 = 60/80 = k31 = Q3/V3 = 12/16
    model = TWO_CPT | {"compartments": 3, "q3_l_per_h": 12, "v3_l": 16, "ke0_per_h": 1.5}
    compare_with_ode(
        {
            "model": model,
            "doses": [
                {"route": "iv_bolus", "time_h": 0, "amount_mg": 20},
                {"route": "iv_infusion", "time_h": 1, "rate_mg_per_h": 10, "duration_h": 3},
            ],
            "times_h": {"start": 0, "stop": 24, "step": 0.1},
        }
    )


# --- a batch mixing confluent and separated patients ---------------------------------------


def test_a_batch_routes_each_patient_to_its_own_exact_solution() -> None:
    lam = eigen_rates(TWO_CPT)
    regimen = {
        "model": TWO_CPT | {"ke0_per_h": 3.0, "ka_per_h": 1.0},
        "doses": [{"route": "oral", "time_h": 0, "amount_mg": 40, "bioavailability": 0.6}],
        "times_h": GRID,
    }
    reg = parse_regimen(regimen)
    one = batch_from_parameters(reg.model_parameters(), None)
    # ka_factor scales ka = 1/h: patients 0 and 2 coincide with a disposition rate
    factors = np.array([lam[0], 1.7, lam[1] * (1 + 1e-9), 0.35])
    bp = BatchParameters(
        **{
            name: np.repeat(getattr(one, name), 4)
            for name in ("cl_l_per_h", "v1_l", "q2_l_per_h", "v2_l", "q3_l_per_h", "v3_l")
        },
        compartments=2,
        ke0_per_h=np.repeat(one.ke0_per_h, 4) if one.ke0_per_h is not None else None,
        ka_factor=factors,
        weight_kg=None,
    )
    inputs, _ = expand_inputs(reg)
    batch = solve(bp, inputs, TIMES, OutputKind.EFFECT)
    assert np.isfinite(batch).all()
    model = TWO_CPT | {"ke0_per_h": 3.0}
    for i, factor in enumerate(factors):
        single = solve(bp.take(np.array([i])), inputs, TIMES, OutputKind.EFFECT)
        assert_allclose(batch[i], single[0], rtol=1e-14, atol=0)
        _, effect = references(model, float(factor), 0.6, 40.0, ode=False)["expm"]
        close(batch[i], effect, EXACT_RTOL, f"patient {i}")


# --- property: any model, ka placed exactly on one of its disposition rates -----------------

positive = st.floats(min_value=0.05, max_value=50, allow_nan=False)


@settings(max_examples=40)
@given(
    st.integers(1, 3),
    st.tuples(*[positive] * 6),
    st.integers(0, 2),
    st.sampled_from([0.0, 1e-12, 1e-7, -1e-7, C / 2, -C / 2, 2 * C]),
)
def test_ka_on_any_disposition_rate_matches_expm(
    compartments: int, values: tuple[float, ...], which: int, rel: float
) -> None:
    cl, v1, q2, v2, q3, v3 = values
    model: dict[str, Any] = {"compartments": compartments, "cl_l_per_h": cl, "v1_l": v1}
    if compartments >= 2:
        model |= {"q2_l_per_h": q2, "v2_l": v2}
    if compartments == 3:
        model |= {"q3_l_per_h": q3, "v3_l": v3}
    rates = eigen_rates(model)
    ka = rates[which % len(rates)] * (1 + rel)
    model |= {"ke0_per_h": ka}  # ke0 on the same rate: the doubly confluent case
    r = oral(model, ka)
    plasma, effect = references(model, ka, 0.6, 40.0, ode=False)["expm"]
    assert r.effect_site_mg_per_l is not None
    # expm itself is accurate to ~1e-13 of the matrix norm; stiff draws (rates 0.001-1000/h)
    # leave a few 1e-12 of the peak, hence the slightly wider tolerance here.
    for actual, expected in ((r.plasma_mg_per_l, plasma), (r.effect_site_mg_per_l, effect)):
        peak = float(np.max(expected))
        assert_allclose(actual, expected, rtol=1e-9, atol=1e-11 * peak)
