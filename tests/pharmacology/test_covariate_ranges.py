"""A patient no model is valid for is refused, by the simulation and the dose calculator alike.

`pk simulate` used to accept an 800 kg patient silently (every model scaled its volumes and
clearance by 800 kg); the dose calculator computed 280 mg/h and left it to the hard limit.
Both now refuse a weight, height or age outside a human range with a message naming the
field, the bounds and the value, before any model runs; inside it, a model still warns when
the patient is outside the population it was validated in.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from typer.testing import CliRunner

from painclinic.cli import app
from painclinic.pharmacology import (
    PharmacologyInputError,
    calculate_infusion,
    simulate,
    simulate_population,
)
from painclinic.pharmacology.patient import COVARIATE_RANGES, Patient

REGIMEN: dict[str, Any] = {
    "drug": "ketamine",
    "patient": {"weight_kg": 70, "height_cm": 170, "age_years": 45, "sex": "female"},
    "doses": [{"route": "iv_infusion", "time_h": 0, "rate_mg_per_h": 24.5, "duration_h": 4}],
    "times_h": {"start": 0, "stop": 4, "step": 1},
}
ORDER: dict[str, Any] = {
    "drug": "ketamine",
    "patient": {"weight_kg": 80},
    "dose": {"value": 0.35, "unit": "mg/kg/h"},
    "duration_min": 240,
    "bag": {"concentration_mg_per_ml": 1},
}

OUTSIDE = [
    ("weight_kg", 800),
    ("weight_kg", 0.5),
    ("weight_kg", 1e308),
    ("height_cm", 400),
    ("height_cm", 17),
    ("age_years", 200),
]


def with_patient(base: dict[str, Any], **patient: Any) -> dict[str, Any]:
    return base | {"patient": base["patient"] | patient}


@pytest.mark.parametrize(("name", "value"), OUTSIDE)
def test_the_simulation_refuses_a_covariate_no_human_has(name, value):
    with pytest.raises(PharmacologyInputError) as info:
        simulate(with_patient(REGIMEN, **{name: value}))
    low, high, unit = COVARIATE_RANGES[name]
    assert info.value.field == f"patient.{name}"
    assert f"between {low:g} and {high:g} {unit}" in str(info.value)
    assert f"got {value:g}" in str(info.value)


def test_the_population_simulation_refuses_it_too():
    with pytest.raises(PharmacologyInputError) as info:
        simulate_population(with_patient(REGIMEN, weight_kg=800), n=10, seed=1)
    assert info.value.field == "patient.weight_kg"


def test_the_dose_calculator_refuses_it_the_same_way():
    with pytest.raises(PharmacologyInputError) as info:
        calculate_infusion(with_patient(ORDER, weight_kg=800))
    assert info.value.field == "patient.weight_kg"
    assert "kilograms only" in str(info.value)


def test_a_patient_built_in_code_is_checked_as_well():
    with pytest.raises(PharmacologyInputError):
        Patient(weight_kg=800.0)
    with pytest.raises(PharmacologyInputError):
        Patient(weight_kg=float("nan"))
    assert Patient(weight_kg=400.0, height_cm=260.0, age_years=130.0).weight_kg == 400.0
    assert Patient(weight_kg=1.0, height_cm=50.0).height_cm == 50.0


def test_the_bounds_themselves_are_accepted():
    result = simulate(with_patient(REGIMEN, weight_kg=400, height_cm=260, age_years=130))
    assert len(result.plasma_mg_per_l) == 5
    assert calculate_infusion(with_patient(ORDER, weight_kg=1)).rate_mg_per_h > 0


def test_inside_the_bounds_a_model_still_warns_outside_its_population():
    lidocaine = {
        "drug": "lidocaine",
        "patient": {"weight_kg": 35, "age_years": 45},
        "doses": [{"route": "iv_infusion", "time_h": 0, "rate_mg_per_h": 100, "duration_h": 1}],
        "times_h": [0, 1],
    }
    warnings = simulate(lidocaine).warnings
    assert any("patient.weight_kg = 35 is outside the validity range" in w for w in warnings)


@pytest.mark.parametrize(
    ("command", "document"),
    [("pk simulate", REGIMEN), ("pk population", REGIMEN), ("dose calculate", ORDER)],
)
def test_the_commands_exit_2_naming_the_field(command, document, tmp_path: pathlib.Path):
    path = tmp_path / "input.json"
    path.write_text(json.dumps(with_patient(document, weight_kg=800)), encoding="utf-8")
    extra = ["--n", "5", "--seed", "1"] if command == "pk population" else []
    result = CliRunner().invoke(app, [*command.split(), str(path), *extra])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert lines[0].startswith("error: patient.weight_kg: must be between 1 and 400 kg")
