"""The closed-form solver against analytic formulas (rtol 1e-6) and solve_ivp LSODA (rtol 1e-4)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

from painclinic.pharmacology import simulate
from painclinic.pharmacology.models import MODELS
from painclinic.pharmacology.regimen import expand_inputs, parse_regimen

from .reference_ode import reference

ANALYTIC_RTOL = 1e-6
ODE_RTOL = 1e-4

ONE_CPT = {"compartments": 1, "cl_l_per_h": 6.0, "v1_l": 30.0, "ke0_per_h": 2.0}
GRID = {"start": 0, "stop": 24, "step": 0.1}


def _times(grid: dict[str, float]) -> np.ndarray:
    n = round((grid["stop"] - grid["start"]) / grid["step"]) + 1
    return grid["start"] + grid["step"] * np.arange(n)


def test_one_compartment_bolus_matches_analytic() -> None:
    r = simulate(
        {
            "model": ONE_CPT,
            "doses": [{"route": "iv_bolus", "time_h": 0, "amount_mg": 100}],
            "times_h": GRID,
        }
    )
    t = _times(GRID)
    k = 6.0 / 30.0
    assert_allclose(r.plasma_mg_per_l, 100 / 30 * np.exp(-k * t), rtol=ANALYTIC_RTOL, atol=0)
    ce = 100 / 30 * 2.0 / (2.0 - k) * (np.exp(-k * t) - np.exp(-2.0 * t))
    assert r.effect_site_mg_per_l is not None
    assert_allclose(r.effect_site_mg_per_l[1:], ce[1:], rtol=ANALYTIC_RTOL, atol=0)


def test_one_compartment_infusion_matches_analytic() -> None:
    r = simulate(
        {
            "model": ONE_CPT,
            "doses": [{"route": "iv_infusion", "time_h": 1, "rate_mg_per_h": 20, "duration_h": 4}],
            "times_h": GRID,
        }
    )
    t = _times(GRID)
    k = 0.2
    during = 20 / 6.0 * (1 - np.exp(-k * np.clip(t - 1, 0, 4)))
    after = 20 / 6.0 * (1 - np.exp(-k * 4)) * np.exp(-k * np.clip(t - 5, 0, None))
    expected = np.where(t < 1, 0.0, np.where(t <= 5, during, after))
    nz = t > 1
    assert_allclose(r.plasma_mg_per_l[nz], expected[nz], rtol=ANALYTIC_RTOL, atol=0)
    assert_allclose(r.plasma_mg_per_l[~nz], 0.0, atol=1e-15)


def test_oral_bateman_with_lag_and_bioavailability() -> None:
    f, ka, lag, dose = 0.2, 1.3, 0.25, 50.0
    r = simulate(
        {
            "model": ONE_CPT,
            "doses": [
                {
                    "route": "oral",
                    "time_h": 2,
                    "amount_mg": dose,
                    "bioavailability": f,
                    "ka_per_h": ka,
                    "lag_h": lag,
                }
            ],
            "times_h": GRID,
        }
    )
    t = _times(GRID)
    k = 0.2
    tau = np.clip(t - 2 - lag, 0, None)
    bateman = f * dose * ka / (30.0 * (ka - k)) * (np.exp(-k * tau) - np.exp(-ka * tau))
    nz = tau > 0
    assert_allclose(r.plasma_mg_per_l[nz], bateman[nz], rtol=ANALYTIC_RTOL, atol=0)
    assert np.all(np.abs(r.plasma_mg_per_l[~nz]) <= 1e-15)


def test_ka_equal_to_elimination_rate_uses_the_limit() -> None:
    # degenerate Bateman: C = F·D·k·t·e^{-kt}/V
    r = simulate(
        {
            "model": ONE_CPT,
            "doses": [
                {
                    "route": "oral",
                    "time_h": 0,
                    "amount_mg": 50,
                    "bioavailability": 1,
                    "ka_per_h": 0.2,
                    "lag_h": 0,
                }
            ],
            "times_h": GRID,
        }
    )
    t = _times(GRID)
    expected = 50 * 0.2 * t * np.exp(-0.2 * t) / 30
    assert_allclose(r.plasma_mg_per_l[1:], expected[1:], rtol=ANALYTIC_RTOL, atol=0)


def test_two_compartment_bolus_matches_textbook_biexponential() -> None:
    cl, v1, q, v2 = 10.0, 10.0, 20.0, 50.0
    r = simulate(
        {
            "model": {"compartments": 2, "cl_l_per_h": cl, "v1_l": v1, "q2_l_per_h": q, "v2_l": v2},
            "doses": [{"route": "iv_bolus", "time_h": 0, "amount_mg": 100}],
            "times_h": GRID,
        }
    )
    k10, k12, k21 = cl / v1, q / v1, q / v2
    s = k10 + k12 + k21
    alpha = (s + math.sqrt(s * s - 4 * k10 * k21)) / 2
    beta = k10 * k21 / alpha
    t = _times(GRID)
    c = (
        100
        / v1
        * (
            (alpha - k21) / (alpha - beta) * np.exp(-alpha * t)
            + (k21 - beta) / (alpha - beta) * np.exp(-beta * t)
        )
    )
    assert_allclose(r.plasma_mg_per_l, c, rtol=ANALYTIC_RTOL, atol=0)


def test_value_at_a_dose_time_is_the_value_just_after_the_dose() -> None:
    r = simulate(
        {
            "model": ONE_CPT,
            "doses": [{"route": "iv_bolus", "time_h": 1, "amount_mg": 30}],
            "times_h": [0.5, 1.0, 1.5],
        }
    )
    assert r.plasma_mg_per_l[0] == 0.0
    assert_allclose(r.plasma_mg_per_l[1], 1.0, rtol=1e-12)


# --- every route × every model against solve_ivp ----------------------------------------

PATIENT = {"weight_kg": 72, "height_cm": 175, "age_years": 44, "sex": "male"}

KETAMINE_DOSES: dict[str, list[dict[str, Any]]] = {
    "iv_bolus": [
        {"route": "iv_bolus", "time_h": 0.5, "amount_mg": 20, "every_h": 6, "additional_doses": 2}
    ],
    "iv_infusion": [
        {"route": "iv_infusion", "time_h": 0, "rate_mg_per_h": 24.5, "duration_h": 4},
        {
            "route": "iv_infusion",
            "time_h": 8,
            "amount_mg": 30,
            "duration_h": 1.5,
            "every_h": 6,
            "additional_doses": 1,
        },
    ],
    "oral": [
        {
            "route": "oral",
            "time_h": 1,
            "amount_mg": 50,
            "every_h": 8,
            "additional_doses": 2,
            "bioavailability": 0.2,
            "ka_per_h": 1.0,
            "lag_h": 0.25,
        }
    ],
    "sublingual": [
        {"route": "sublingual", "time_h": 0, "amount_mg": 25, "every_h": 6, "additional_doses": 3}
    ],
    "intranasal": [
        {
            "route": "intranasal",
            "time_h": 0.2,
            "amount_mg": 30,
            "bioavailability": 0.15,
            "lag_h": 0.1,
        }
    ],
    "intramuscular": [{"route": "intramuscular", "time_h": 0, "amount_mg": 35}],
    "subcutaneous": [
        {
            "route": "subcutaneous",
            "time_h": 0,
            "amount_mg": 10,
            "every_h": 4,
            "additional_doses": 4,
        },
        {"route": "subcutaneous", "time_h": 2, "rate_mg_per_h": 5, "duration_h": 6},
    ],
    "rectal": [{"route": "rectal", "time_h": 3, "amount_mg": 40, "ka_per_h": 0.7, "lag_h": 0.5}],
    "transdermal": [
        {
            "route": "transdermal",
            "time_h": 0,
            "amount_mg": 25,
            "duration_h": 24,
            "bioavailability": 0.9,
        }
    ],
}


def _compare(regimen: dict[str, Any], times_rtol: float = ODE_RTOL) -> None:
    reg = parse_regimen(regimen)
    result = simulate(regimen)
    inputs, _ = expand_inputs(reg)
    ref = reference(
        reg.model_parameters(),
        inputs,
        result.times_h,
        norketamine=reg.norketamine,
        weight_kg=reg.patient.weight_kg,
    )
    got = {
        "plasma": result.plasma_mg_per_l,
        "effect": result.effect_site_mg_per_l,
        "metabolite": result.metabolite_mg_per_l,
    }
    for name, expected in ref.items():
        actual = got[name]
        assert actual is not None, name
        # atol: 1e-7 of the peak, for points where both are essentially zero
        atol = 1e-7 * float(np.max(np.abs(expected)))
        assert_allclose(actual, expected, rtol=times_rtol, atol=atol, err_msg=name)
    assert set(ref) == {k for k, v in got.items() if v is not None}


@pytest.mark.parametrize("route", sorted(KETAMINE_DOSES))
@pytest.mark.parametrize("model", sorted(m for m, s in MODELS.items() if s.drug == "ketamine"))
def test_ketamine_every_route_every_model_matches_solve_ivp(model: str, route: str) -> None:
    _compare(
        {
            "drug": "ketamine",
            "model": model,
            "patient": PATIENT,
            "doses": KETAMINE_DOSES[route],
            "times_h": {"start": 0, "stop": 30, "step": 0.25},
        }
    )


@pytest.mark.parametrize("model", sorted(m for m, s in MODELS.items() if s.drug == "lidocaine"))
def test_lidocaine_models_match_solve_ivp(model: str) -> None:
    _compare(
        {
            "drug": "lidocaine",
            "model": model,
            "patient": PATIENT,
            "doses": [
                {"route": "iv_bolus", "time_h": 0, "amount_mg": 70},
                {"route": "iv_infusion", "time_h": 0, "amount_mg": 350, "duration_h": 2 / 3},
                {
                    "route": "iv_infusion",
                    "time_h": 24,
                    "rate_mg_per_h": 100,
                    "duration_h": 1,
                    "every_h": 24,
                    "additional_doses": 1,
                },
            ],
            "times_h": [0, 1 / 3, 2 / 3, 1, 1.5, 2, 3, 6, 12, 24, 24.5, 25, 30, 48, 49, 60],
        }
    )


@pytest.mark.parametrize("compartments", [1, 2, 3])
@pytest.mark.parametrize(
    "route", ["iv_bolus", "iv_infusion", "oral", "subcutaneous", "transdermal"]
)
def test_custom_models_match_solve_ivp(compartments: int, route: str) -> None:
    model: dict[str, Any] = {
        "compartments": compartments,
        "cl_l_per_h": 40,
        "v1_l": 15,
        "ke0_per_h": 3.0,
        "ka_per_h": 1.7,
    }
    if compartments >= 2:
        model |= {"q2_l_per_h": 60, "v2_l": 80}
    if compartments == 3:
        model |= {"q3_l_per_h": 8, "v3_l": 150}
    dose: dict[str, Any] = {"route": route, "time_h": 0.3, "every_h": 5, "additional_doses": 2}
    if route in ("iv_infusion", "transdermal"):
        dose |= {"rate_mg_per_h": 12, "duration_h": 2}
    else:
        dose |= {"amount_mg": 40}
    if route in ("oral", "subcutaneous"):
        dose |= {"bioavailability": 0.6, "lag_h": 0.2}
    if route == "transdermal":
        dose |= {"bioavailability": 0.8}
    _compare({"model": model, "doses": [dose], "times_h": {"start": 0, "stop": 20, "step": 0.05}})


def test_norketamine_after_oral_matches_solve_ivp_with_overrides() -> None:
    _compare(
        {
            "drug": "ketamine",
            "model": "clements",
            "patient": PATIENT,
            "norketamine": {
                "fraction_metabolised": 0.6,
                "half_life_h": 9,
                "first_pass_fraction": {"oral": 0.5},
            },
            "doses": KETAMINE_DOSES["oral"] + KETAMINE_DOSES["iv_bolus"],
            "times_h": {"start": 0, "stop": 48, "step": 0.5},
        }
    )


def test_coincident_rates_still_match_solve_ivp() -> None:
    # ka equal to ke0 and to the elimination rate of a 1-compartment model
    _compare(
        {
            "model": {"compartments": 1, "cl_l_per_h": 6, "v1_l": 30, "ke0_per_h": 0.2},
            "doses": [
                {
                    "route": "oral",
                    "time_h": 0,
                    "amount_mg": 100,
                    "bioavailability": 1,
                    "ka_per_h": 0.2,
                }
            ],
            "times_h": {"start": 0, "stop": 24, "step": 0.5},
        }
    )


def test_dose_time_on_a_floating_point_grid_shows_the_post_dose_value() -> None:
    # 3 × 0.3 = 0.8999999999999999 in binary arithmetic; the grid point is still "at" the dose
    times = (np.arange(0, 40) * 0.3).tolist()
    dose_t = 0.9
    assert times[3] < dose_t
    r = simulate(
        {
            "model": ONE_CPT,
            "doses": [{"route": "iv_bolus", "time_h": dose_t, "amount_mg": 30}],
            "times_h": times,
        }
    )
    i = int(np.argmin(np.abs(np.asarray(times) - dose_t)))
    assert_allclose(r.plasma_mg_per_l[i], 1.0, rtol=1e-9)
