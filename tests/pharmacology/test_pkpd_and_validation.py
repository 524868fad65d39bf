"""Dahan 2011 PK-PD, norketamine behaviour and the lidocaine model against published levels."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

from painclinic.pharmacology import PharmacologyInputError, predict_crps_relief, simulate

FAST_1CPT = {"compartments": 1, "cl_l_per_h": 500.0, "v1_l": 50.0}


def test_effect_compartment_has_the_dahan_half_life_and_c50() -> None:
    # plasma at steady state almost at once (k = 10 /h): 0.021 mg/L racemic for 30 days;
    # S-fraction 0.5 gives 10.5 ng/mL = C50 after full equilibration.
    rate = 0.021 * 500.0
    reg = {
        "model": FAST_1CPT,
        "doses": [
            {"route": "iv_infusion", "time_h": 0, "rate_mg_per_h": rate, "duration_h": 24 * 200}
        ],
        "times_h": [0],
    }
    p = predict_crps_relief(reg, weeks_after=1, step_h=1)
    t_half_h = 10.9 * 24
    ke0 = math.log(2) / t_half_h
    k = 10.0
    expected = 10.5 * (
        1 - (k * np.exp(-ke0 * p.times_h) - ke0 * np.exp(-k * p.times_h)) / (k - ke0)
    )
    during = p.times_h <= 24 * 200
    assert_allclose(p.effect_ng_per_ml[during][1:], expected[during][1:], rtol=1e-6)
    # after ~20 half-lives the relief equals Emax/2 at C50
    assert p.relief_fraction[during][-1] == pytest.approx(0.5, rel=1e-4)
    # offset: effect halves every 10.9 days after the series (plasma gone within hours)
    end = p.series_end_h
    assert p.relief_at_weeks_after(0) > p.relief_at_weeks_after(1)
    i0 = int(np.searchsorted(p.times_h, end + 24))
    i1 = int(np.searchsorted(p.times_h, end + 24 + t_half_h / 2))
    ratio = p.effect_ng_per_ml[i1] / p.effect_ng_per_ml[i0]
    assert ratio == pytest.approx(2 ** (-(p.times_h[i1] - p.times_h[i0]) / t_half_h), rel=1e-4)


def test_crps_series_predicts_relief_decaying_over_12_weeks() -> None:
    reg = {
        "drug": "ketamine",
        "model": "domino",
        "patient": {"weight_kg": 70},
        "doses": [
            {
                "route": "iv_infusion",
                "time_h": 0,
                "rate_mg_per_h": 24.5,
                "duration_h": 4,
                "every_h": 24,
                "additional_doses": 9,
            }
        ],
        "times_h": [0],
    }
    p = predict_crps_relief(reg)
    assert p.times_h[-1] == pytest.approx(p.series_end_h + 12 * 7 * 24)
    r = [p.relief_at_weeks_after(w) for w in (0, 2, 4, 8, 12)]
    assert all(a > b for a, b in itertools.pairwise(r))
    assert 0 < r[-1] < r[0] < 1
    assert p.warnings


def test_relief_model_refuses_lidocaine() -> None:
    reg = {
        "drug": "lidocaine",
        "patient": {"weight_kg": 70},
        "doses": [{"route": "iv_bolus", "time_h": 0, "amount_mg": 70}],
        "times_h": [0],
    }
    with pytest.raises(PharmacologyInputError) as info:
        predict_crps_relief(reg)
    assert info.value.field == "drug"


def _ketamine(route: str, **extra: Any) -> dict[str, Any]:
    dose: dict[str, Any] = {"route": route, "time_h": 0, "amount_mg": 50} | extra
    return {
        "drug": "ketamine",
        "model": "domino",
        "patient": {"weight_kg": 70},
        "doses": [dose],
        "times_h": {"start": 0, "stop": 24, "step": 0.1},
    }


def test_oral_dosing_gives_more_norketamine_than_ketamine_unlike_iv() -> None:
    oral = simulate(_ketamine("oral"))
    iv = simulate(_ketamine("iv_bolus"))
    assert oral.metabolite_mg_per_l is not None and iv.metabolite_mg_per_l is not None
    auc = np.trapezoid
    oral_ratio = auc(oral.metabolite_mg_per_l, oral.times_h) / auc(
        oral.plasma_mg_per_l, oral.times_h
    )
    iv_ratio = auc(iv.metabolite_mg_per_l, iv.times_h) / auc(iv.plasma_mg_per_l, iv.times_h)
    assert oral_ratio > 1  # norketamine exceeds ketamine after oral dosing [S2]
    assert oral_ratio > 3 * iv_ratio  # first-pass formation


def test_norketamine_first_pass_can_be_switched_off() -> None:
    base = simulate(_ketamine("oral"))
    off = simulate(_ketamine("oral", first_pass_metabolite_fraction=0))
    assert off.metabolite_mg_per_l is not None and base.metabolite_mg_per_l is not None
    assert off.metabolite_mg_per_l.max() < base.metabolite_mg_per_l.max()
    assert_allclose(off.plasma_mg_per_l, base.plasma_mg_per_l, rtol=1e-12)


# Neuropathic-pain study (bvsalud record) [S]: 5 mg/kg over 40 min; plasma 2.0 / 2.7 / 2.2 /
# 1.5 / 1.1 mcg/mL at 20 / 40 / 60 / 90 / 120 min. Weight not reported: 70 kg assumed.
PUBLISHED_TIMES_H = [20 / 60, 40 / 60, 1.0, 1.5, 2.0]
PUBLISHED_MG_PER_L = [2.0, 2.7, 2.2, 1.5, 1.1]
#: Stated tolerance: every point within 40% (the model's own error is documented in
#: docs/pharmacology.md: -12%, -4%, -26%, +3%, +35% at 70 kg).
LIDOCAINE_VALIDATION_RTOL = 0.40


def test_lidocaine_99_model_against_published_chronic_pain_concentrations() -> None:
    r = simulate(
        {
            "drug": "lidocaine",
            "model": "lidocaine_99",
            "patient": {"weight_kg": 70},
            "doses": [
                {"route": "iv_infusion", "time_h": 0, "amount_mg": 350, "duration_h": 40 / 60}
            ],
            "times_h": PUBLISHED_TIMES_H,
        }
    )
    assert_allclose(r.plasma_mg_per_l, PUBLISHED_MG_PER_L, rtol=LIDOCAINE_VALIDATION_RTOL)
    # the peak at the end of the infusion is within 10%
    assert_allclose(r.plasma_mg_per_l[1], 2.7, rtol=0.10)
    errors = (r.plasma_mg_per_l - PUBLISHED_MG_PER_L) / np.array(PUBLISHED_MG_PER_L)
    assert_allclose(errors, [-0.122, -0.045, -0.263, 0.033, 0.347], atol=0.005)


# The same study's published schedule: 5 mg/kg in 150 mL over 40 min, 300 mL/h for the first
# 10 min (50 mL = one third of the dose) and 200 mL/h for the remaining 30 min (two thirds).
def _cohort_schedule(weight_kg: float) -> list[dict[str, Any]]:
    dose_mg = 5.0 * weight_kg
    return [
        {"route": "iv_infusion", "time_h": 0, "amount_mg": dose_mg / 3, "duration_h": 10 / 60},
        {
            "route": "iv_infusion",
            "time_h": 10 / 60,
            "amount_mg": dose_mg * 2 / 3,
            "duration_h": 30 / 60,
        },
    ]


#: Stated tolerance for a population model against the cohort's mean levels: median absolute
#: prediction error (MDAPE) at most 15% and no point off by more than 40% (ours, not a
#: published acceptance criterion).
COHORT_MDAPE_LIMIT = 0.15
COHORT_MAX_APE_LIMIT = 0.40


def test_lidocaine_99_against_the_cohort_on_its_published_two_rate_schedule() -> None:
    r = simulate(
        {
            "drug": "lidocaine",
            "model": "lidocaine_99",
            "patient": {"weight_kg": 70},
            "doses": _cohort_schedule(70),
            "times_h": PUBLISHED_TIMES_H,
        }
    )
    pe = (r.plasma_mg_per_l - PUBLISHED_MG_PER_L) / np.array(PUBLISHED_MG_PER_L)
    mdape = float(np.median(np.abs(pe)))
    assert mdape <= COHORT_MDAPE_LIMIT
    assert float(np.max(np.abs(pe))) <= COHORT_MAX_APE_LIMIT
    # the documented errors (docs/pharmacology.md): -13%, -8%, -27%, +3%, +34%; MDAPE 12.6%,
    # median error -8.4% (under-prediction at the peak, over-prediction at 2 h)
    assert_allclose(pe, [-0.126, -0.084, -0.265, 0.031, 0.344], atol=0.005)
    assert mdape == pytest.approx(0.126, abs=0.002)


def test_lidocaine_99_barely_follows_weight_on_a_per_kg_dose() -> None:
    """5 mg/kg gives a 50 kg and a 90 kg patient almost the same dose-normalised exposure in
    a weight-proportional model; lidocaine_99's fixed V2 and Q make the 50 kg patient's levels
    a third lower than the 70 kg patient's: the documented reason it is a poor default."""

    def peak(w: float) -> float:
        r = simulate(
            {
                "drug": "lidocaine",
                "model": "lidocaine_99",
                "patient": {"weight_kg": w},
                "doses": _cohort_schedule(w),
                "times_h": [40 / 60],
            }
        )
        return float(r.plasma_mg_per_l[0])

    assert peak(50) / peak(70) == pytest.approx(0.735, abs=0.01)
    assert peak(90) / peak(70) == pytest.approx(1.251, abs=0.01)


# Chong C et al. 2006 / 2009 [S2] (reference section 9): 25 mg racemic ketamine; norketamine
# peak 82 +/- 34 mcg/L at 1.6 h after oral, 66 mcg/L at 1.9 h after sublingual; after IV the
# norketamine peak comes at about 0.6 h. Patients' weight not reported: 70 kg assumed.
#: Stated tolerance: the peak within one SD of the oral mean (34 mcg/L; the same +/-34 is used
#: for sublingual, whose SD is not in the reference) and the time of the peak within 0.5 h.
CHONG_PEAK_TOL_MCG_PER_L = 34.0
CHONG_TMAX_TOL_H = 0.5


def _norketamine_peak(route: str) -> tuple[float, float]:
    r = simulate(
        {
            "drug": "ketamine",
            "model": "domino",
            "patient": {"weight_kg": 70, "age_years": 45},
            "doses": [{"route": route, "time_h": 0, "amount_mg": 25}],
            "times_h": {"start": 0, "stop": 12, "step": 1 / 600},
        }
    )
    assert r.metabolite_mg_per_l is not None
    i = int(np.argmax(r.metabolite_mg_per_l))
    return float(r.metabolite_mg_per_l[i]) * 1000.0, float(r.times_h[i])


@pytest.mark.parametrize(
    ("route", "published_peak", "published_tmax", "model_peak", "model_tmax", "peak_ok", "tmax_ok"),
    [
        # oral: peak 47.6 (-42%, just outside one SD), at 3.96 h (2.4 h late)
        ("oral", 82.0, 1.6, 47.6, 3.96, False, False),
        # sublingual: peak 55.6 (-16%), at 2.73 h (0.8 h late)
        ("sublingual", 66.0, 1.9, 55.6, 2.73, True, False),
        # IV: the norketamine peak at 4.55 h instead of about 0.6 h (published peak level not
        # in the reference, so only the time is compared)
        ("iv_bolus", None, 0.6, 67.8, 4.55, None, False),
    ],
)
def test_norketamine_defaults_against_chong_2006(
    route: str,
    published_peak: float | None,
    published_tmax: float,
    model_peak: float,
    model_tmax: float,
    peak_ok: bool | None,
    tmax_ok: bool,
) -> None:
    """The defaults miss Chong's times (formation too slow); the misses are pinned here and
    documented in docs/pharmacology.md instead of tuning the defaults silently."""
    peak, tmax = _norketamine_peak(route)
    assert peak == pytest.approx(model_peak, abs=0.1)
    assert tmax == pytest.approx(model_tmax, abs=0.01)
    if published_peak is not None:
        assert (abs(peak - published_peak) <= CHONG_PEAK_TOL_MCG_PER_L) is peak_ok
    assert (abs(tmax - published_tmax) <= CHONG_TMAX_TOL_H) is tmax_ok
