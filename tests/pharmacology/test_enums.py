"""The core's closed vocabularies are StrEnums that still equal (and serialise as) their text."""

from __future__ import annotations

import json

import numpy as np
import pytest

from painclinic.pharmacology import (
    DoseUnit,
    LimitBound,
    LimitLevel,
    LimitStatus,
    OutputKind,
    calculate_infusion,
    load_drug_library,
    simulate_population,
)
from painclinic.pharmacology.regimen import expand_inputs, parse_regimen
from painclinic.pharmacology.simulation import batch_from_parameters
from painclinic.pharmacology.solver import solve

# The strings the web app stores and compares (plans' limit_status, templates, JSON orders).
STORED_TEXT = {
    LimitStatus: {"within", "soft_limit", "hard_limit"},
    LimitLevel: {"soft", "hard"},
    LimitBound: {"lower", "upper", "member"},
    DoseUnit: {"mg/kg/h", "mg/h", "mcg/kg/min", "mg/kg", "mg"},
    OutputKind: {"plasma", "effect", "metabolite"},
}


@pytest.mark.parametrize("enum", list(STORED_TEXT), ids=lambda e: e.__name__)
def test_members_are_exactly_the_stored_text(enum: type) -> None:
    assert {str(m) for m in enum} == STORED_TEXT[enum]
    for member in enum:
        assert member == member.value and json.dumps(member) == json.dumps(member.value)
        assert enum(member.value) is member


def order(dose: float, unit: str = "mg/kg/h", concentration: float = 1.0) -> dict:
    return {
        "drug": "ketamine",
        "patient": {"weight_kg": 70},
        "dose": {"value": dose, "unit": unit},
        "duration_min": 240,
        "bag": {"concentration_mg_per_ml": concentration},
    }


@pytest.mark.parametrize(
    ("dose", "concentration", "status"),
    [(0.35, 1.0, "within"), (0.5, 1.0, "soft_limit"), (0.7, 1.0, "hard_limit"), (0.35, 3, None)],
)
def test_calculation_status_is_an_enum_that_the_web_app_can_compare(
    dose: float, concentration: float, status: str | None
) -> None:
    calc = calculate_infusion(order(dose, concentration=concentration))
    assert isinstance(calc.status, LimitStatus)
    if status is not None:
        assert calc.status == status
    else:  # a non-standard bag concentration is a hard limit of bound "member"
        assert calc.status is LimitStatus.HARD_LIMIT
        assert any(c.bound is LimitBound.MEMBER for c in calc.limit_checks)
    assert calc.refused is (calc.status is LimitStatus.HARD_LIMIT)
    for check in calc.limit_checks:
        assert isinstance(check.status, LimitStatus)
        assert isinstance(check.level, LimitLevel) and isinstance(check.bound, LimitBound)
    # what the web app stores: plain JSON text
    stored = json.loads(json.dumps(calc.to_dict()))
    assert stored["status"] == str(calc.status)
    assert {c["status"] for c in stored["limit_checks"]} <= STORED_TEXT[LimitStatus]


def test_library_limits_are_typed() -> None:
    for entry in load_drug_library().drugs.values():
        for limit in entry.limits:
            assert isinstance(limit.level, LimitLevel)
            assert limit.bound in (LimitBound.LOWER, LimitBound.UPPER)


@pytest.mark.parametrize("unit", list(DoseUnit))
def test_orders_accept_the_unit_text_and_keep_the_enum(unit: DoseUnit) -> None:
    from painclinic.pharmacology.dosing import parse_order

    parsed = parse_order(order(0.1, unit=str(unit)))
    assert parsed.dose_unit is unit


def test_solver_accepts_the_enum_or_its_text() -> None:
    reg = parse_regimen(
        {
            "drug": "ketamine",
            "model": "domino",
            "patient": {"weight_kg": 70},
            "norketamine": False,
            "doses": [{"route": "iv_bolus", "time_h": 0, "amount_mg": 10}],
            "times_h": [0, 0.5, 1],
        }
    )
    bp = batch_from_parameters(reg.model_parameters(), 70.0)
    inputs, _ = expand_inputs(reg)
    times = np.asarray(reg.times_h)
    np.testing.assert_array_equal(
        solve(bp, inputs, times, OutputKind.EFFECT), solve(bp, inputs, times, "effect")
    )
    with pytest.raises(ValueError):
        solve(bp, inputs, times, "brain")


def test_population_output_is_an_enum() -> None:
    regimen = {
        "drug": "ketamine",
        "patient": {"weight_kg": 70},
        "doses": [{"route": "iv_bolus", "time_h": 0, "amount_mg": 10}],
        "times_h": [0, 1],
    }
    result = simulate_population(regimen, 3, 1, output="effect", summaries=False)
    assert result.output is OutputKind.EFFECT
    assert result.to_dict()["output"] == "effect"
