"""Bad regimens raise a ValueError subclass naming the field; model metadata; warnings."""

from __future__ import annotations

from typing import Any

import pytest

from painclinic.pharmacology import (
    MODELS,
    NeuraxialRouteError,
    PharmacologyInputError,
    simulate,
)

BASE: dict[str, Any] = {
    "drug": "ketamine",
    "model": "domino",
    "patient": {"weight_kg": 70, "age_years": 40},
    "doses": [{"route": "iv_bolus", "time_h": 0, "amount_mg": 10}],
    "times_h": {"start": 0, "stop": 2, "step": 0.5},
}


def with_dose(**dose: Any) -> dict[str, Any]:
    return BASE | {"doses": [dose]}


@pytest.mark.parametrize(
    ("regimen", "field"),
    [
        (BASE | {"drug": "propofol"}, "drug"),
        (BASE | {"model": "marsh"}, "model"),
        (BASE | {"model": "lidocaine_99"}, "model"),
        (with_dose(route="intraosseous", time_h=0, amount_mg=5), "doses[0].route"),
        (with_dose(route="iv_bolus", time_h=0, amount_mg=-5), "doses[0].amount_mg"),
        (with_dose(route="iv_bolus", time_h=0), "doses[0].amount_mg"),
        (with_dose(route="oral", time_h=0), "doses[0].amount_mg"),
        (with_dose(route="iv_infusion", time_h=0, rate_mg_per_h=20), "doses[0].duration_h"),
        (with_dose(route="transdermal", time_h=0, amount_mg=25), "doses[0].duration_h"),
        (with_dose(route="iv_bolus", amount_mg=5), "doses[0].time_h"),
        (
            with_dose(route="oral", time_h=0, amount_mg=5, bioavailability=1.5),
            "doses[0].bioavailability",
        ),
        (with_dose(route="oral", time_h=0, amount_mg=5, additional_doses=2), "doses[0].every_h"),
        (with_dose(route="iv_bolus", time_h=0, amount_mg=5, lag_h=1), "doses[0].lag_h"),
        (BASE | {"patient": {"age_years": 40}}, "patient.weight_kg"),
        (BASE | {"patient": {"weight_kg": 70, "sex": "x"}}, "patient.sex"),
        (BASE | {"times_h": {"start": 0, "stop": 2}}, "times_h.step"),
        (BASE | {"times_h": [0, 2, 1]}, "times_h[2]"),
        (BASE | {"doses": []}, "doses"),
        (BASE | {"dose": []}, "dose"),
        (
            {
                "model": {"compartments": 2, "cl_l_per_h": 5, "v1_l": 10},
                "doses": BASE["doses"],
                "times_h": [0, 1],
            },
            "model.q2_l_per_h",
        ),
        (
            {
                "model": {"compartments": 1, "cl_l_per_h": 5, "v1_l": 10},
                "doses": [{"route": "oral", "time_h": 0, "amount_mg": 5}],
                "times_h": [0, 1],
            },
            "doses[0].bioavailability",
        ),
        (
            BASE
            | {
                "drug": "lidocaine",
                "model": None,
                "doses": [{"route": "oral", "time_h": 0, "amount_mg": 5}],
            },
            "doses[0].route",
        ),
        ("{not json", "regimen"),
    ],
)
def test_bad_input_names_the_field(regimen: Any, field: str) -> None:
    with pytest.raises(PharmacologyInputError) as info:
        simulate(regimen)
    assert isinstance(info.value, ValueError)
    assert info.value.field == field
    assert field in str(info.value)


@pytest.mark.parametrize("route", ["intrathecal", "epidural"])
def test_neuraxial_routes_are_refused_with_the_neurotoxicity_warning(route: str) -> None:
    with pytest.raises(NeuraxialRouteError) as info:
        simulate(with_dose(route=route, time_h=0, amount_mg=1))
    message = str(info.value)
    assert "no validated human neuraxial" in message
    assert "chlorobutanol" in message and "benzethonium" in message and "neurotoxic" in message
    assert info.value.field == "doses[0].route"


def test_every_model_carries_citation_population_and_units() -> None:
    assert {"domino", "clements", "hijazi", "kamp", "lidocaine_99"} <= set(MODELS)
    for spec in MODELS.values():
        assert spec.citation and spec.population and spec.units and spec.iiv_source
        assert (
            "doi" in spec.citation.lower()
            or "pmid" in spec.citation.lower()
            or (spec.name == "lidocaine_99")
        )


def test_covariate_outside_validity_range_gives_a_warning() -> None:
    r = simulate(BASE | {"patient": {"weight_kg": 30, "age_years": 12}})
    assert any("age_years = 12" in w and "outside the validity range" in w for w in r.warnings)
    r = simulate(
        BASE
        | {
            "drug": "lidocaine",
            "model": "lidocaine_99",
            "patient": {"weight_kg": 35, "age_years": 40},
        }
    )
    assert any("weight_kg = 35" in w for w in r.warnings)


def test_assumed_absorption_defaults_are_flagged() -> None:
    r = simulate(with_dose(route="subcutaneous", time_h=0, amount_mg=10))
    assert any("assumption" in w for w in r.warnings)


def test_lidocaine_infusion_beyond_24_h_warns_about_time_dependence() -> None:
    r = simulate(
        BASE
        | {
            "drug": "lidocaine",
            "model": None,
            "doses": [{"route": "iv_infusion", "time_h": 0, "rate_mg_per_h": 60, "duration_h": 30}],
        }
    )
    assert any("longer than 24 h" in w for w in r.warnings)


def test_to_dict_has_the_documented_keys_and_nulls() -> None:
    d = simulate(BASE | {"norketamine": False}).to_dict()
    assert {
        "times_h",
        "plasma_mg_per_l",
        "effect_site_mg_per_l",
        "metabolite_mg_per_l",
        "warnings",
    } <= set(d)
    assert d["metabolite_mg_per_l"] is None
    d = simulate(BASE | {"model": "kamp"}).to_dict()
    assert d["effect_site_mg_per_l"] is None


def test_custom_ketamine_model_without_weight_skips_norketamine_with_a_warning() -> None:
    r = simulate(
        {
            "drug": "ketamine",
            "model": {"compartments": 1, "cl_l_per_h": 79, "v1_l": 252},
            "doses": [{"route": "iv_bolus", "time_h": 0, "amount_mg": 10}],
            "times_h": [0, 1],
        }
    )
    assert r.metabolite_mg_per_l is None
    assert any("norketamine not modelled" in w for w in r.warnings)
    with pytest.raises(PharmacologyInputError) as info:
        simulate(
            {
                "drug": "ketamine",
                "model": {"compartments": 1, "cl_l_per_h": 79, "v1_l": 252},
                "norketamine": True,
                "doses": [{"route": "iv_bolus", "time_h": 0, "amount_mg": 10}],
                "times_h": [0, 1],
            }
        )
    assert info.value.field == "patient.weight_kg"
