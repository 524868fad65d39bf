"""Dose and pump-rate calculator, drug library limits."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from painclinic.pharmacology import (
    DrugLibraryError,
    PharmacologyInputError,
    calculate_infusion,
    load_drug_library,
)
from painclinic.pharmacology.dosing import ideal_body_weight_kg, ordered_rate_mg_per_h
from painclinic.pharmacology.druglibrary import DEFAULT_PATH, parse_drug_library
from painclinic.pharmacology.formatting import ISMP_PATTERN
from painclinic.pharmacology.patient import Sex


def order(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "drug": "ketamine",
        "patient": {"weight_kg": 70, "height_cm": 170, "sex": "female"},
        "dose": {"value": 0.35, "unit": "mg/kg/h"},
        "duration_min": 240,
        "bag": {"concentration_mg_per_ml": 1},
        "pump_precision_ml_per_h": 0.1,
    }
    base.update(over)
    return base


def test_schwartzman_session_for_70_kg() -> None:
    c = calculate_infusion(order())
    assert_allclose(c.rate_mg_per_h, 24.5, rtol=1e-12)
    assert c.rate_ml_per_h == 24.5
    assert_allclose(c.total_mg, 98, rtol=1e-12)
    assert_allclose(c.volume_ml, 98, rtol=1e-12)
    assert c.duration_h == 4
    assert c.status == "within"
    assert c.display["pump_rate"] == "24.5 mL/h"
    assert c.display["dose"] == "0.35 mg/kg/h"
    assert c.to_dict()["refused"] is False


def test_protocol_rate_cap_of_25_mg_per_h_for_a_heavy_patient() -> None:
    c = calculate_infusion(order(patient={"weight_kg": 100}, max_rate_mg_per_h=25))
    assert c.ordered_rate_mg_per_h == pytest.approx(35)
    assert c.rate_mg_per_h == 25
    assert c.rate_ml_per_h == 25
    assert any("capped by protocol" in w for w in c.warnings)
    assert c.status == "within"  # 25 mg/h is within; 0.25 mg/kg/h within


def test_tenfold_vial_concentration_as_bag_is_refused() -> None:
    c = calculate_infusion(order(bag={"concentration_mg_per_ml": 10}))
    assert c.status == "hard_limit"
    assert c.refused
    conc = [x for x in c.limit_checks if x.name == "concentration_mg_per_ml"]
    assert conc and conc[0].status == "hard_limit"


def test_bag_from_amount_and_volume() -> None:
    c = calculate_infusion(order(bag={"drug_amount_mg": 100, "diluent_volume_ml": 100}))
    assert c.concentration_mg_per_ml == 1
    assert c.status == "within"


def test_lidocaine_5_mg_per_kg_over_40_min_with_500_mg_cap() -> None:
    c = calculate_infusion(
        order(
            drug="lidocaine",
            patient={"weight_kg": 120},
            dose={"value": 5, "unit": "mg/kg"},
            duration_min=40,
            max_total_mg=500,
            bag={"concentration_mg_per_ml": 4},
        )
    )
    assert c.total_mg <= 500 + 1e-9
    assert_allclose(c.total_mg, 500, rtol=1e-3)
    assert any("session total capped" in w for w in c.warnings)
    hard = [x for x in c.limit_checks if x.name == "session_total_mg" and x.level == "hard"]
    assert hard[0].status == "within"


def test_lidocaine_over_500_mg_without_protocol_cap_is_refused() -> None:
    c = calculate_infusion(
        order(
            drug="lidocaine",
            patient={"weight_kg": 120},
            dose={"value": 5, "unit": "mg/kg"},
            duration_min=40,
            bag={"concentration_mg_per_ml": 4},
        )
    )
    assert c.status == "hard_limit"
    assert any(x.name == "session_total_mg" and x.status == "hard_limit" for x in c.limit_checks)


def test_lidocaine_under_40_kg_is_refused() -> None:
    c = calculate_infusion(
        order(
            drug="lidocaine",
            patient={"weight_kg": 38},
            dose={"value": 1.5, "unit": "mg/kg/h"},
            duration_min=60,
            bag={"concentration_mg_per_ml": 4},
        )
    )
    w = [x for x in c.limit_checks if x.name == "weight_kg"]
    assert w[0].status == "hard_limit" and w[0].clinic_policy


def test_every_limit_check_carries_value_source_and_bound() -> None:
    c = calculate_infusion(order())
    assert c.limit_checks
    for x in c.limit_checks:
        assert x.status in ("within", "soft_limit", "hard_limit")
        assert x.bound in ("lower", "upper", "member")
        assert x.source
        assert x.limit_value is not None


def test_soft_limit_above_025_mg_per_kg_per_h_for_a_light_patient() -> None:
    c = calculate_infusion(order(patient={"weight_kg": 50}, dose={"value": 0.5, "unit": "mg/kg/h"}))
    assert c.status == "soft_limit"


def test_ideal_and_adjusted_weight() -> None:
    assert ideal_body_weight_kg(170, Sex.FEMALE) == 65
    assert ideal_body_weight_kg(180, Sex.MALE) == 80
    c = calculate_infusion(
        order(patient={"weight_kg": 100, "height_cm": 180, "sex": "male"}, weight_basis="adjusted")
    )
    assert_allclose(c.dose_weight_kg, 80 + 0.4 * 20, rtol=1e-12)
    c = calculate_infusion(
        order(
            patient={"weight_kg": 100, "height_cm": 180, "sex": "male"},
            weight_basis="ideal",
            weight_cap_kg=75,
        )
    )
    assert c.dose_weight_kg == 75
    assert any("capped" in w for w in c.warnings)


def test_tiny_positive_dose_is_never_rounded_to_zero() -> None:
    c = calculate_infusion(order(dose={"value": 0.01, "unit": "mg/h"}, pump_precision_ml_per_h=0.1))
    assert c.rate_ml_per_h == 0.1
    assert c.delivered_rate_mg_per_h == pytest.approx(0.1)
    assert any("below the pump precision" in w for w in c.warnings)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"drug": "propofol"}, "drug"),
        ({"dose": {"value": -1, "unit": "mg/kg/h"}}, "dose.value"),
        ({"dose": {"value": 1, "unit": "g"}}, "dose.unit"),
        ({"dose": {"unit": "mg"}}, "dose.value"),
        ({"patient": {"height_cm": 170}}, "patient.weight_kg"),
        ({"duration_min": None}, "duration_min"),
        ({"bag": {"drug_amount_mg": 100}}, "bag.diluent_volume_ml"),
        ({"weight_basis": "ideal", "patient": {"weight_kg": 70}}, "patient.height_cm"),
        ({"weight_basis": "ideal", "patient": {"weight_kg": 70, "height_cm": 170}}, "patient.sex"),
        ({"weight_basis": "lean"}, "weight_basis"),
        ({"pump_precision_ml_per_h": 0}, "pump_precision_ml_per_h"),
    ],
)
def test_bad_orders_name_the_field(over: dict[str, Any], field: str) -> None:
    with pytest.raises(PharmacologyInputError) as info:
        calculate_infusion(order(**over))
    assert info.value.field == field
    assert field in str(info.value)


def test_the_packaged_library_loads_and_demands_sign_off() -> None:
    lib = load_drug_library()
    assert set(lib.drugs) == {"ketamine", "lidocaine"}
    assert "medical director" in lib.sign_off_statement
    assert lib.drugs["ketamine"].vial_concentrations_mg_per_ml == (10, 50, 100)
    for entry in lib.drugs.values():
        quantities = {lim.quantity for lim in entry.limits}
        assert {
            "rate_mg_per_h",
            "session_total_mg",
            "total_24h_mg",
            "bolus_mg_per_kg",
        } <= quantities
        assert {lim.level for lim in entry.limits} == {"soft", "hard"}


def test_environment_variable_points_to_a_clinic_copy(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = json.loads(DEFAULT_PATH.read_text())
    data["drugs"]["ketamine"]["standard_concentrations_mg_per_ml"] = [1, 2]
    copy = tmp_path / "lib.json"
    copy.write_text(json.dumps(data))
    monkeypatch.setenv("PAINCLINIC_DRUG_LIBRARY", str(copy))
    assert calculate_infusion(order(bag={"concentration_mg_per_ml": 2})).status != "hard_limit"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (
            lambda d: d["drugs"]["ketamine"]["limits"][0].update(value=-1),
            "drugs.ketamine.limits[0].value",
        ),
        (
            lambda d: d["drugs"]["ketamine"]["limits"][0].update(unit="mg/h"),
            "drugs.ketamine.limits[0].unit",
        ),
        (
            lambda d: d["drugs"]["ketamine"]["limits"][1].update(level="medium"),
            "drugs.ketamine.limits[1].level",
        ),
        (
            lambda d: d["drugs"]["lidocaine"].update(standard_concentrations_mg_per_ml=[]),
            "drugs.lidocaine.standard_concentrations_mg_per_ml",
        ),
        (lambda d: d.pop("medical_director_sign_off"), "medical_director_sign_off"),
        (lambda d: d["drugs"]["ketamine"]["limits"][2].update(value=20), "drugs.ketamine.limits"),
    ],
)
def test_library_validation_names_the_field(mutate: Any, field: str) -> None:
    data = json.loads(DEFAULT_PATH.read_text())
    mutate(data)
    with pytest.raises(DrugLibraryError) as info:
        parse_drug_library(data)
    assert info.value.field == field


# --- properties ---------------------------------------------------------------------------

weights = st.floats(min_value=40, max_value=200, allow_nan=False)
doses = st.floats(min_value=0.01, max_value=2, allow_nan=False)
precisions = st.sampled_from([0.01, 0.1, 1.0])


@settings(max_examples=200)
@given(weights, doses, precisions)
def test_pump_rate_is_dose_times_weight_over_concentration(
    weight: float, dose: float, precision: float
) -> None:
    c = calculate_infusion(
        order(
            patient={"weight_kg": weight},
            dose={"value": dose, "unit": "mg/kg/h"},
            pump_precision_ml_per_h=precision,
        )
    )
    exact = dose * weight / 1.0
    assert c.rate_ml_per_h > 0
    nearest = abs(c.rate_ml_per_h - exact) <= precision / 2 + 1e-9 or c.rate_ml_per_h == precision
    # The pump never rounds a dose up past a hard limit: at the limit itself (0.75 mg/kg/h) the
    # rate goes one step down instead, and the delivered dose stays within the limit.
    hard_per_kg = 0.75
    rounded_down = (
        exact - precision <= c.rate_ml_per_h < exact
        and (c.rate_ml_per_h + precision) / weight > hard_per_kg
    )
    assert nearest or rounded_down, (c.rate_ml_per_h, exact)
    if dose <= hard_per_kg:  # (an order beyond the limit is refused whatever its rounding)
        assert c.delivered_rate_mg_per_h / weight <= hard_per_kg + 1e-12
    steps = c.rate_ml_per_h / precision
    assert abs(steps - round(steps)) < 1e-6
    assert_allclose(c.delivered_rate_mg_per_h, c.rate_ml_per_h * 1.0, rtol=1e-12)
    for text in c.display.values():
        if text[0].isdigit():
            assert ISMP_PATTERN.match(text), text


@settings(max_examples=200)
@given(weights, st.floats(min_value=1, max_value=100, allow_nan=False))
def test_unit_conversions_round_trip(weight: float, mcg_per_kg_per_min: float) -> None:
    mg_per_h = ordered_rate_mg_per_h(mcg_per_kg_per_min, "mcg/kg/min", weight, 1.0)
    mg_per_kg_per_h = mg_per_h / weight
    assert_allclose(
        ordered_rate_mg_per_h(mg_per_kg_per_h, "mg/kg/h", weight, 1.0), mg_per_h, rtol=1e-12
    )
    assert_allclose(mg_per_kg_per_h * 1000 / 60, mcg_per_kg_per_min, rtol=1e-12)
    # an amount over a duration equals the same rate
    assert_allclose(ordered_rate_mg_per_h(mg_per_h * 2.5, "mg", weight, 2.5), mg_per_h, rtol=1e-12)


@settings(max_examples=200)
@given(st.floats(min_value=1e-6, max_value=10, allow_nan=False), precisions)
def test_a_positive_dose_never_becomes_a_zero_pump_rate(
    dose_mg_per_h: float, precision: float
) -> None:
    c = calculate_infusion(
        order(dose={"value": dose_mg_per_h, "unit": "mg/h"}, pump_precision_ml_per_h=precision)
    )
    assert c.rate_ml_per_h >= precision
    assert c.delivered_rate_mg_per_h > 0


def test_a_callers_frozen_dataclass_order_is_accepted() -> None:
    import dataclasses
    import enum

    class CallerSex(enum.Enum):
        FEMALE = "female"

    @dataclasses.dataclass(frozen=True)
    class PatientIn:
        weight_kg: float
        height_cm: float
        sex: CallerSex

    @dataclasses.dataclass(frozen=True)
    class DoseIn:
        value: float
        unit: str

    @dataclasses.dataclass(frozen=True)
    class OrderIn:
        drug: str
        patient: PatientIn
        dose: DoseIn
        duration_min: float
        bag: dict[str, float]
        weight_basis: str = "ideal"
        weight_cap_kg: float | None = None
        max_rate_mg_per_h: float | None = 25
        max_total_mg: float | None = None
        pump_precision_ml_per_h: float = 0.1
        prior_24h_mg: float = 0

    c = calculate_infusion(
        OrderIn(
            "ketamine",
            PatientIn(70, 170, CallerSex.FEMALE),
            DoseIn(0.35, "mg/kg/h"),
            240,
            {"concentration_mg_per_ml": 1},
        )
    )
    assert c.dose_weight_kg == 65
    assert_allclose(c.rate_mg_per_h, 0.35 * 65, rtol=1e-12)
