"""Session-level drug-library limits (issue 11, item 1): per kg of the lower of actual and ideal
body weight, the 500 mg cap, the minimum infusion time, short sessions vs continuous infusions,
ketamine's hard mg/kg/h and outpatient/inpatient 24-hour limits, titrations summed over the
session, boluses against bolus limits. Each rule at its boundary: one case that fires, one that
does not. Expected values are plain arithmetic on the packaged library's limits (RCH: 7.5 mg/kg,
500 mg; Schwartzman 2009: 100 mg a session; IBW = height - 100 men / - 105 women)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from painclinic.clinical.protocols import plan
from painclinic.pharmacology import (
    SessionStep,
    calculate_infusion,
    evaluate_session,
    load_drug_library,
)
from painclinic.pharmacology.druglibrary import DEFAULT_PATH, parse_drug_library
from painclinic.pharmacology.errors import DrugLibraryError
from painclinic.pharmacology.patient import parse_patient

LIB = load_drug_library()


def session(drug: str, patient: dict[str, Any], steps: list[SessionStep], **kw: Any):
    return evaluate_session(LIB, drug, parse_patient(patient), steps, **kw)


def infusion(minutes: float, mg: float, start: float = 0.0) -> SessionStep:
    return SessionStep(start, minutes, mg)


def crossed(result, name: str) -> set[str]:
    """The levels at which ``name`` is crossed."""
    return {str(c.level) for c in result.breaches if c.name == name}


SMALL = {"weight_kg": 50, "height_cm": 160, "sex": "female"}  # IBW 55 kg
LARGE = {"weight_kg": 110, "height_cm": 180, "sex": "male"}  # IBW 80 kg


# --- the standard plan --------------------------------------------------------------------------


@pytest.mark.parametrize("patient", [SMALL, LARGE], ids=["50kg-160cm-f", "110kg-180cm-m"])
def test_standard_lidocaine_plan_is_within_with_no_soft_limit(patient: dict[str, Any]) -> None:
    """5 mg/kg over 60 min (at most 500 mg): within, no warning to co-sign without reading."""
    result = plan("lid-5mgkg-60min", patient)
    assert result.status == "within" and not result.blocked
    assert not any("limit" in w for w in result.warnings)
    total = result.sessions[0].total_mg
    assert total == pytest.approx(min(5 * patient["weight_kg"], 500), abs=0.5)


def test_standard_plan_through_the_calculator_is_within() -> None:
    order = {
        "drug": "lidocaine",
        "patient": SMALL,
        "dose": {"value": 5, "unit": "mg/kg"},
        "duration_min": 60,
        "max_total_mg": 500,
        "bag": {"concentration_mg_per_ml": 4},
    }
    calc = calculate_infusion(order)
    assert calc.status == "within" and calc.total_mg == pytest.approx(250)


# --- per kg of the lower of actual and ideal body weight ----------------------------------------


def test_obese_patient_is_limited_per_kg_of_ideal_weight() -> None:
    # 100 kg, 165 cm woman: IBW 60 kg. 450 mg = 7.5 mg/kg of IBW (the soft limit): within.
    obese = {"weight_kg": 100, "height_cm": 165, "sex": "female"}
    at_limit = session("lidocaine", obese, [infusion(60, 450)])
    assert at_limit.lower_weight_kg == 60 and at_limit.status == "within"
    # 460 mg = 7.67 mg/kg of IBW (4.6 mg/kg of actual weight): soft.
    above = session("lidocaine", obese, [infusion(60, 460)])
    assert crossed(above, "session_total_mg_per_kg") == {"soft"}
    check = next(c for c in above.breaches if c.name == "session_total_mg_per_kg")
    assert check.value == pytest.approx(460 / 60) and check.weight_kg == 60
    assert check.weight_basis == "lower_of_actual_and_ideal" and check.evidence == "published"


def test_a_patient_lighter_than_ideal_is_limited_per_kg_of_actual_weight() -> None:
    # 50 kg, 170 cm woman: IBW 65 kg, actual 50 kg is lower. 376 mg = 7.52 mg/kg: soft.
    light = {"weight_kg": 50, "height_cm": 170, "sex": "female"}
    assert crossed(session("lidocaine", light, [infusion(60, 376)]), "session_total_mg_per_kg")
    assert session("lidocaine", light, [infusion(60, 375)]).status == "within"


def test_hard_per_kg_limit_at_10_mg_per_kg_of_ideal_weight() -> None:
    # 120 kg, 150 cm woman: IBW 45 kg. 450 mg = 10 mg/kg: soft only; 455 mg: hard.
    short = {"weight_kg": 120, "height_cm": 150, "sex": "female"}
    assert crossed(session("lidocaine", short, [infusion(60, 450)]), "session_total_mg_per_kg") == {
        "soft"
    }
    result = session("lidocaine", short, [infusion(60, 455)])
    assert result.refused and "hard" in crossed(result, "session_total_mg_per_kg")


def test_unknown_height_uses_actual_weight_and_says_so() -> None:
    result = session("lidocaine", {"weight_kg": 90}, [infusion(60, 450)])
    assert result.ideal_weight_kg is None and result.lower_weight_kg == 90
    assert result.status == "within"
    assert any("Height not recorded" in w and "actual weight" in w for w in result.warnings)
    assert not session("lidocaine", LARGE, [infusion(60, 450)]).warnings


# --- the absolute cap and the minimum infusion time ---------------------------------------------


def test_the_500_mg_cap_per_session() -> None:
    big = {"weight_kg": 150, "height_cm": 200, "sex": "male"}  # IBW 100: 5 mg/kg = 500 mg
    assert session("lidocaine", big, [infusion(60, 500)]).status == "within"
    result = session("lidocaine", big, [infusion(60, 501)])
    assert crossed(result, "session_total_mg") == {"hard"} and result.refused


def test_the_minimum_infusion_time() -> None:
    patient = {"weight_kg": 70, "height_cm": 175, "sex": "male"}  # 5 mg/kg = 350 mg
    assert session("lidocaine", patient, [infusion(60, 350)]).status == "within"
    # 30 min (the RCH and Pain Med 2018 shortest): below the usual 60 min, soft; not hard.
    assert crossed(session("lidocaine", patient, [infusion(30, 350)]), "session_duration_min") == {
        "soft"
    }
    result = session("lidocaine", patient, [infusion(29, 350)])
    assert "hard" in crossed(result, "session_duration_min") and result.refused


# --- short sessions and continuous infusions ----------------------------------------------------


def test_perioperative_continuous_limits_apply_to_continuous_infusions_only() -> None:
    patient = {"weight_kg": 70, "height_cm": 175, "sex": "male"}  # lower weight 70 kg
    # 150 mg/h for 60 min: a chronic-pain session, Foo's 120 mg/h and 1.5 mg/kg/h do not apply.
    short = session("lidocaine", patient, [infusion(60, 150)])
    assert short.session_kind == "short_session" and short.status == "within"
    # The same rate for 180 min (longer than RCH's 120 min): a continuous infusion.
    cont = session("lidocaine", patient, [infusion(180, 450)])
    assert cont.session_kind == "continuous"
    assert crossed(cont, "rate_mg_per_h") == {"soft"}
    assert crossed(cont, "rate_mg_per_kg_per_h") == {"soft"}
    # 105 mg/h = 1.5 mg/kg/h of 70 kg, under 120 mg/h: within.
    assert session("lidocaine", patient, [infusion(180, 315)]).status == "within"


# --- ketamine -----------------------------------------------------------------------------------


def test_ketamine_hard_mg_per_kg_per_h() -> None:
    # 50 kg: 37.5 mg/h = 0.75 mg/kg/h, the hard limit (soft limits crossed, not hard).
    at_limit = session("ketamine", {"weight_kg": 50}, [infusion(60, 37.5)])
    assert crossed(at_limit, "rate_mg_per_kg_per_h") == {"soft"} and not at_limit.refused
    # 38 mg/h = 0.76 mg/kg/h: refused although under the 40 mg/h ceiling.
    above = session("ketamine", {"weight_kg": 50}, [infusion(60, 38)])
    assert "hard" in crossed(above, "rate_mg_per_kg_per_h") and above.refused
    assert "hard" not in crossed(above, "rate_mg_per_h")


def test_ketamine_outpatient_and_inpatient_24_hour_limits() -> None:
    day = [infusion(24 * 60, 300)]  # 12.5 mg/h for 24 h
    out = session("ketamine", {"weight_kg": 70}, day, setting="outpatient")
    assert "hard" in crossed(out, "total_24h_mg")  # outpatient hard 160 mg
    inp = session("ketamine", {"weight_kg": 70}, day, setting="inpatient")
    assert inp.status == "within"  # inpatient soft 480 mg
    assert crossed(
        session("ketamine", {"weight_kg": 70}, [infusion(1440, 481)], setting="inpatient"),
        "total_24h_mg",
    ) == {"soft"}
    assert crossed(
        session("ketamine", {"weight_kg": 70}, [infusion(1440, 961)], setting="inpatient"),
        "total_24h_mg",
    ) == {"soft", "hard"}


def test_earlier_sessions_count_in_the_rolling_24_hours() -> None:
    # Yesterday's 100 mg ended 20 h before today's 100 mg session ends: 200 mg > 160 mg.
    yesterday = [SessionStep(-24 * 60 + 240, 240, 100)]  # 04:00-08:00 the day before
    today = [infusion(240, 100)]  # 00:00-04:00
    result = session("ketamine", {"weight_kg": 70}, today, earlier=yesterday)
    assert result.max_24h_mg == pytest.approx(200) and result.refused
    # Yesterday 25 h earlier: out of the window.
    early = [SessionStep(-25 * 60 - 240, 240, 100)]
    assert session("ketamine", {"weight_kg": 70}, today, earlier=early).max_24h_mg == pytest.approx(
        100
    )


# --- the whole session, not step by step --------------------------------------------------------


def test_a_titration_whose_steps_are_each_under_the_session_limit_together_exceed_it() -> None:
    steps = [infusion(120, 50), infusion(120, 52, start=120)]  # 25 then 26 mg/h, 4 h
    for step in steps:
        alone = session("ketamine", {"weight_kg": 80}, [SessionStep(0, 120, step.amount_mg)])
        assert not crossed(alone, "session_total_mg")
    together = session("ketamine", {"weight_kg": 80}, steps)
    assert together.total_mg == pytest.approx(102)
    assert crossed(together, "session_total_mg") == {"soft"}
    assert (
        session(
            "ketamine", {"weight_kg": 80}, [infusion(120, 50), infusion(120, 50, start=120)]
        ).status
        == "within"
    )


def test_a_loading_dose_counts_in_the_session_total() -> None:
    patient = {"weight_kg": 70, "height_cm": 175, "sex": "male"}
    bolus = SessionStep(0, 5, 70, bolus=True)  # 1 mg/kg
    assert session("lidocaine", patient, [bolus, infusion(60, 430, start=5)]).status == "within"
    result = session("lidocaine", patient, [bolus, infusion(60, 431, start=5)])  # 501 mg
    assert crossed(result, "session_total_mg") == {"hard"}


# --- a bolus is checked against bolus limits ----------------------------------------------------


def test_a_bolus_is_checked_against_bolus_limits_not_the_rate_limit() -> None:
    patient = {"weight_kg": 70, "height_cm": 175, "sex": "male"}
    order = {
        "drug": "lidocaine",
        "patient": patient,
        "dose": {"value": 1.4, "unit": "mg/kg"},
        "duration_min": 5,
        "bag": {"concentration_mg_per_ml": 8},
        "pump_precision_ml_per_h": 0.1,
        "scope": "step",
    }
    # 98 mg over 5 min is 1,176 mg/h, above the 1,000 mg/h rate ceiling of an infusion; as a
    # bolus it is 1.4 mg/kg: above the 1 mg/kg soft, under the 1.5 mg/kg hard bolus limit.
    calc = calculate_infusion(order)
    names = {c.name for c in calc.limit_checks}
    assert "rate_mg_per_h" not in names and "bolus_mg_per_kg" in names
    assert calc.status == "soft_limit"
    over = calculate_infusion({**order, "dose": {"value": 1.6, "unit": "mg/kg"}})
    assert over.refused
    assert {c.name for c in over.limit_checks if c.status == "hard_limit"} == {"bolus_mg_per_kg"}
    # The same amount as an infusion over 20 min is checked against the rate limits.
    slow = calculate_infusion({**order, "duration_min": 20})
    assert "rate_mg_per_h" in {c.name for c in slow.limit_checks}


# --- every limit carries its source and evidence; the library is validated ----------------------


def test_every_limit_has_a_source_and_an_evidence_tag() -> None:
    for entry in LIB.drugs.values():
        assert entry.short_session_max_duration_min is not None and entry.session_kinds_source
        for lim in entry.limits:
            assert lim.source.strip()
            assert lim.evidence in ("published", "secondary", "clinic_policy")
            assert lim.clinic_policy == (lim.evidence != "published")
    lidocaine = LIB.drug("lidocaine")
    soft = [lim for lim in lidocaine.limits if lim.quantity == "session_total_mg_per_kg"]
    assert {(lim.level, lim.value) for lim in soft} == {("soft", 7.5), ("hard", 10.0)}
    assert all(lim.weight_basis == "lower_of_actual_and_ideal" for lim in soft)
    # RCH's usual rate is a paediatric hospital's rate, not a limit, and S-ketamine is named.
    assert not [
        lim
        for lim in lidocaine.limits
        if lim.quantity == "rate_mg_per_kg_per_h" and lim.applies_to != "continuous"
    ]
    assert any("S-ketamine" in lim.source for lim in LIB.drug("ketamine").limits)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda lim: lim.update(weight_basis="heaviest"), "weight_basis"),
        (lambda lim: lim.update(applies_to="sometimes"), "applies_to"),
        (lambda lim: lim.update(setting="home"), "setting"),
        (lambda lim: lim.update(evidence="hearsay"), "evidence"),
    ],
)
def test_library_validation_names_the_new_fields(mutate: Any, field: str) -> None:
    data = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    mutate(data["drugs"]["lidocaine"]["limits"][1])
    with pytest.raises(DrugLibraryError) as error:
        parse_drug_library(data)
    assert error.value.field == f"drugs.lidocaine.limits[1].{field}"


def test_library_validation_of_session_kinds_and_weight_basis() -> None:
    data = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    bad = copy.deepcopy(data)
    bad["drugs"]["lidocaine"]["session_kinds"]["short_session_max_duration_min"] = -1
    with pytest.raises(DrugLibraryError) as error:
        parse_drug_library(bad)
    assert error.value.field == "drugs.lidocaine.session_kinds.short_session_max_duration_min"
    bad = copy.deepcopy(data)
    bad["drugs"]["lidocaine"]["limits"][3]["weight_basis"] = "lower_of_actual_and_ideal"
    with pytest.raises(DrugLibraryError) as error:  # a limit in mg has no weight basis
        parse_drug_library(bad)
    assert error.value.field == "drugs.lidocaine.limits[3].weight_basis"
    assert parse_drug_library(data).drug("lidocaine").short_session_max_duration_min == 120
