"""Instrument thresholds, answer formats and validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from painclinic.clinical import ClinicalInputError
from painclinic.clinical.instruments import INSTRUMENTS, score, template

RESULT_KEYS = {"instrument", "score", "band", "met", "flags", "reasons"}


def skeleton(name: str) -> dict[str, Any]:
    return copy.deepcopy(dict(template(name).skeleton))


# --- every instrument --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(INSTRUMENTS))
def test_skeleton_scores_and_has_the_interface_keys(name: str) -> None:
    result = score(name, skeleton(name)).to_dict()
    assert set(result) >= RESULT_KEYS
    assert set(result) - RESULT_KEYS <= {"details"}
    assert result["instrument"] == name


@pytest.mark.parametrize("name", sorted(INSTRUMENTS))
def test_template_lists_items_and_sources(name: str) -> None:
    tpl = template(name).to_dict()
    assert tpl["items"] and tpl["sources"] and tpl["wording_source"] and tpl["licence"]


@pytest.mark.parametrize("name", sorted(INSTRUMENTS))
def test_unknown_key_is_rejected(name: str) -> None:
    answers = skeleton(name)
    answers["surprise"] = 1
    with pytest.raises(ClinicalInputError) as exc:
        score(name, answers)
    assert exc.value.field == "surprise"


def test_unknown_instrument() -> None:
    with pytest.raises(ClinicalInputError) as exc:
        score("nope", {})
    assert exc.value.field == "instrument"


def test_skeleton_formats_are_the_published_interface() -> None:
    assert template("phq9").skeleton == {"items": [0] * 9}
    assert template("nrs").skeleton == {"score": 0}
    dn4 = template("dn4").skeleton
    assert len(dn4) == 10 and all(v is False for v in dn4.values())
    assert "pins_and_needles" in dn4
    assert len(template("dn4_interview").skeleton) == 7
    bud = template("budapest").skeleton
    assert set(bud) == {
        "variant",
        "disproportionate_pain",
        "symptoms",
        "signs",
        "better_explained_by_other_diagnosis",
    }
    cats = {"sensory", "vasomotor", "sudomotor_edema", "motor_trophic"}
    assert set(bud["symptoms"]) == cats and set(bud["signs"]) == cats
    assert bud["symptoms"]["vasomotor"]["temperature_asymmetry"] is False
    acr = template("acr2016").skeleton
    assert set(acr["painful_areas"]["left_upper"]) == {
        "jaw",
        "shoulder_girdle",
        "upper_arm",
        "lower_arm",
    }
    assert set(acr["painful_areas"]["right_lower"]) == {"hip", "upper_leg", "lower_leg"}
    assert set(acr["painful_areas"]["axial"]) == {
        "neck",
        "upper_back",
        "lower_back",
        "chest",
        "abdomen",
    }
    assert acr["fatigue"] == 0 and acr["headaches"] is False


# --- NRS, PGIC, RASS, MOAA/S ---------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 10])
def test_nrs_range_ends_accepted(value: int) -> None:
    assert score("nrs", {"score": value}).score == value


@pytest.mark.parametrize("value", [-1, 11, 5.5, True, "5"])
def test_nrs_out_of_range_names_the_item(value: object) -> None:
    with pytest.raises(ClinicalInputError) as exc:
        score("nrs", {"score": value})
    assert exc.value.field == "score"


def test_nrs_missing_key() -> None:
    with pytest.raises(ClinicalInputError) as exc:
        score("nrs", {})
    assert exc.value.field == "score"


@pytest.mark.parametrize(
    ("value", "band"), [(1, "very_much_improved"), (2, "much_improved"), (7, "very_much_worse")]
)
def test_pgic_labels(value: int, band: str) -> None:
    assert score("pgic", {"score": value}).band == band


@pytest.mark.parametrize("value", [0, 8])
def test_pgic_out_of_range(value: int) -> None:
    with pytest.raises(ClinicalInputError):
        score("pgic", {"score": value})


@pytest.mark.parametrize(
    ("value", "band"), [(-5, "unarousable"), (4, "combative"), (0, "alert_and_calm")]
)
def test_rass(value: int, band: str) -> None:
    assert score("rass", {"score": value}).band == band


@pytest.mark.parametrize("value", [-6, 5])
def test_rass_out_of_range(value: int) -> None:
    with pytest.raises(ClinicalInputError):
        score("rass", {"score": value})


@pytest.mark.parametrize("value", [-1, 6])
def test_moaas_out_of_range(value: int) -> None:
    with pytest.raises(ClinicalInputError):
        score("moaas", {"score": value})


def test_moaas_awake() -> None:
    assert score("moaas", {"score": 5}).band == "responds_readily_to_name"


# --- PHQ-9 ---------------------------------------------------------------------------------


def phq(total: int, item9: int = 0) -> list[int]:
    items = [0] * 9
    items[8] = item9
    remaining = total - item9
    for i in range(8):
        take = min(3, remaining)
        items[i] = take
        remaining -= take
    assert remaining == 0
    return items


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately_severe"),
        (19, "moderately_severe"),
        (20, "severe"),
        (24, "severe"),
    ],
)
def test_phq9_bands_at_each_edge(total: int, band: str) -> None:
    result = score("phq9", {"items": phq(total)})
    assert result.score == total and result.band == band
    assert result.met is (total >= 10)


def test_phq9_maximum() -> None:
    assert score("phq9", {"items": [3] * 9}).band == "severe"


def test_phq9_item9_flags_self_harm_even_when_minimal() -> None:
    result = score("phq9", {"items": phq(1, item9=1)})
    assert result.band == "minimal"
    assert "self_harm_risk" in result.flags


def test_phq9_item9_zero_no_flag() -> None:
    assert score("phq9", {"items": phq(20)}).flags == ()


def test_phq9_names_bad_item() -> None:
    items = [0] * 9
    items[8] = 4
    with pytest.raises(ClinicalInputError) as exc:
        score("phq9", {"items": items})
    assert exc.value.field == "items[8]"


def test_phq9_wrong_length() -> None:
    with pytest.raises(ClinicalInputError) as exc:
        score("phq9", {"items": [0] * 8})
    assert exc.value.field == "items"


# --- DN4, DN4-interview, LANSS -------------------------------------------------------------


def yes(name: str, n: int) -> dict[str, bool]:
    answers = skeleton(name)
    for key in list(answers)[:n]:
        answers[key] = True
    return answers


@pytest.mark.parametrize(("n", "met"), [(3, False), (4, True), (5, True)])
def test_dn4_threshold(n: int, met: bool) -> None:
    result = score("dn4", yes("dn4", n))
    assert result.score == n and result.met is met


@pytest.mark.parametrize(("n", "met"), [(2, False), (3, True), (4, True)])
def test_dn4_interview_threshold(n: int, met: bool) -> None:
    assert score("dn4_interview", yes("dn4_interview", n)).met is met


def test_dn4_rejects_yes_string() -> None:
    answers = skeleton("dn4")
    answers["burning"] = "yes"
    with pytest.raises(ClinicalInputError) as exc:
        score("dn4", answers)
    assert exc.value.field == "burning"


def test_dn4_examination_items_not_in_interview() -> None:
    answers = yes("dn4_interview", 0)
    answers["hypoesthesia_to_touch"] = True
    with pytest.raises(ClinicalInputError):
        score("dn4_interview", answers)


def lanss(*keys: str) -> dict[str, bool]:
    answers = skeleton("lanss")
    for key in keys:
        answers[key] = True
    return answers


def test_lanss_weights_sum_to_24() -> None:
    assert score("lanss", lanss(*template("lanss").skeleton)).score == 24


@pytest.mark.parametrize(
    ("keys", "total", "met"),
    [
        # 5 + 5 + 1 = 11: one below
        (("dysesthesia", "skin_appearance_change", "thermal_burning"), 11, False),
        # 5 + 5 + 2 = 12: at the threshold
        (("dysesthesia", "skin_appearance_change", "paroxysmal_pain"), 12, True),
        # 5 + 5 + 3 = 13: one above
        (("dysesthesia", "skin_appearance_change", "abnormal_touch_sensitivity"), 13, True),
        (("allodynia_cotton_wool", "altered_pinprick_threshold"), 8, False),
    ],
)
def test_lanss_threshold(keys: tuple[str, ...], total: int, met: bool) -> None:
    result = score("lanss", lanss(*keys))
    assert result.score == total and result.met is met


# --- Budapest --------------------------------------------------------------------------------


def budapest(
    symptom_cats: int,
    sign_cats: int,
    *,
    variant: str = "clinical",
    disproportionate: bool = True,
    other: bool = False,
) -> dict[str, Any]:
    answers = skeleton("budapest")
    answers["variant"] = variant
    answers["disproportionate_pain"] = disproportionate
    answers["better_explained_by_other_diagnosis"] = other
    cats = ["sensory", "vasomotor", "sudomotor_edema", "motor_trophic"]
    for cat in cats[:symptom_cats]:
        first = next(iter(answers["symptoms"][cat]))
        answers["symptoms"][cat][first] = True
    for cat in cats[:sign_cats]:
        first = next(iter(answers["signs"][cat]))
        answers["signs"][cat][first] = True
    return answers


@pytest.mark.parametrize(("symptoms", "met"), [(2, False), (3, True), (4, True)])
def test_budapest_clinical_symptom_threshold(symptoms: int, met: bool) -> None:
    assert score("budapest", budapest(symptoms, 2)).met is met


@pytest.mark.parametrize(("symptoms", "met"), [(3, False), (4, True)])
def test_budapest_research_needs_all_four_symptom_categories(symptoms: int, met: bool) -> None:
    assert score("budapest", budapest(symptoms, 2, variant="research")).met is met


@pytest.mark.parametrize(("signs", "met"), [(1, False), (2, True), (3, True)])
def test_budapest_sign_threshold(signs: int, met: bool) -> None:
    assert score("budapest", budapest(4, signs)).met is met


def test_budapest_needs_disproportionate_pain() -> None:
    assert score("budapest", budapest(4, 4, disproportionate=False)).met is False


def test_budapest_other_diagnosis_excludes() -> None:
    assert score("budapest", budapest(4, 4, other=True)).met is False


def test_budapest_two_items_in_one_category_count_once() -> None:
    answers = budapest(2, 2)
    answers["symptoms"]["sensory"]["allodynia"] = True
    result = score("budapest", answers)
    assert result.met is False
    assert result.details is not None and result.details["symptom_categories"] == [
        "sensory",
        "vasomotor",
    ]


def test_budapest_names_nested_bad_item() -> None:
    answers = budapest(3, 2)
    answers["symptoms"]["vasomotor"]["temperature_asymmetry"] = 1
    with pytest.raises(ClinicalInputError) as exc:
        score("budapest", answers)
    assert exc.value.field == "symptoms.vasomotor.temperature_asymmetry"


def test_budapest_unknown_nested_item() -> None:
    answers = budapest(3, 2)
    answers["signs"]["sensory"]["hyperalgesia"] = True
    with pytest.raises(ClinicalInputError) as exc:
        score("budapest", answers)
    assert exc.value.field == "signs.sensory.hyperalgesia"


def test_budapest_bad_variant() -> None:
    answers = budapest(3, 2, variant="strict")
    with pytest.raises(ClinicalInputError) as exc:
        score("budapest", answers)
    assert exc.value.field == "variant"


# --- ACR 2016 --------------------------------------------------------------------------------

GENERALIZED_FOUR = [
    ("left_upper", "shoulder_girdle"),
    ("right_upper", "shoulder_girdle"),
    ("left_lower", "hip"),
    ("right_lower", "hip"),
]
EXTRA_AREAS = [
    ("axial", "neck"),
    ("axial", "upper_back"),
    ("axial", "lower_back"),
    ("left_upper", "upper_arm"),
    ("right_upper", "upper_arm"),
    ("left_upper", "lower_arm"),
]


def acr(areas: list[tuple[str, str]], sss: int, *, months: bool = True) -> dict[str, Any]:
    answers = skeleton("acr2016")
    for region, area in areas:
        answers["painful_areas"][region][area] = True
    remaining = sss
    for key in ("fatigue", "waking_unrefreshed", "cognitive_symptoms"):
        answers[key] = min(3, remaining)
        remaining -= answers[key]
    for key in ("headaches", "lower_abdominal_pain_or_cramps", "depression"):
        if remaining > 0:
            answers[key] = True
            remaining -= 1
    assert remaining == 0
    answers["symptoms_at_least_3_months"] = months
    return answers


def wpi_sss(result: Any) -> tuple[int, int]:
    return result.details["wpi"], result.details["sss"]


def test_acr_wpi3_sss9_not_met() -> None:
    result = score("acr2016", acr(GENERALIZED_FOUR[:3], 9))
    assert wpi_sss(result) == (3, 9) and result.met is False


def test_acr_wpi4_sss9_generalized_met() -> None:
    result = score("acr2016", acr(GENERALIZED_FOUR, 9))
    assert wpi_sss(result) == (4, 9) and result.met is True


def test_acr_wpi4_sss8_not_met() -> None:
    assert score("acr2016", acr(GENERALIZED_FOUR, 8)).met is False


def test_acr_wpi6_sss9_met_and_sss8_not() -> None:
    areas = GENERALIZED_FOUR + EXTRA_AREAS[:2]
    assert score("acr2016", acr(areas, 9)).met is True
    assert score("acr2016", acr(areas, 8)).met is False


def test_acr_wpi7_sss5_met_sss4_not() -> None:
    areas = GENERALIZED_FOUR + EXTRA_AREAS[:3]
    result = score("acr2016", acr(areas, 5))
    assert wpi_sss(result) == (7, 5) and result.met is True
    assert score("acr2016", acr(areas, 4)).met is False


def test_acr_jaw_chest_abdomen_do_not_make_pain_generalized() -> None:
    areas = [
        ("left_upper", "jaw"),
        ("right_upper", "jaw"),
        ("axial", "chest"),
        ("axial", "abdomen"),
        ("left_lower", "hip"),
        ("right_lower", "hip"),
        ("left_lower", "upper_leg"),
    ]
    result = score("acr2016", acr(areas, 9))
    assert result.details is not None
    assert result.details["wpi"] == 7
    assert result.details["generalized_pain_regions"] == ["left_lower", "right_lower"]
    assert result.met is False


def test_acr_three_regions_not_generalized() -> None:
    areas = [
        ("left_upper", "shoulder_girdle"),
        ("left_upper", "upper_arm"),
        ("right_upper", "shoulder_girdle"),
        ("right_upper", "upper_arm"),
        ("axial", "neck"),
        ("axial", "upper_back"),
        ("axial", "lower_back"),
    ]
    result = score("acr2016", acr(areas, 12))
    assert result.details is not None and result.details["wpi"] == 7
    assert result.met is False


def test_acr_needs_three_months() -> None:
    assert score("acr2016", acr(GENERALIZED_FOUR, 9, months=False)).met is False


def test_acr_sss_maximum_12() -> None:
    result = score("acr2016", acr(GENERALIZED_FOUR, 12))
    assert result.details is not None and result.details["sss"] == 12


def test_acr_names_bad_area() -> None:
    answers = acr(GENERALIZED_FOUR, 9)
    answers["painful_areas"]["axial"]["chest"] = "no"
    with pytest.raises(ClinicalInputError) as exc:
        score("acr2016", answers)
    assert exc.value.field == "painful_areas.axial.chest"


def test_acr_fatigue_out_of_range() -> None:
    answers = acr(GENERALIZED_FOUR, 9)
    answers["fatigue"] = 4
    with pytest.raises(ClinicalInputError) as exc:
        score("acr2016", answers)
    assert exc.value.field == "fatigue"


# --- BPI -------------------------------------------------------------------------------------


def test_bpi_means() -> None:
    answers = skeleton("bpi")
    answers["severity"] = {"worst": 8, "least": 2, "average": 5, "now": 5}
    answers["interference"] = dict.fromkeys(answers["interference"], 7)
    answers["relief_percent"] = 30
    result = score("bpi", answers)
    assert result.details is not None
    assert result.details["severity"] == pytest.approx(5.0)
    assert result.details["interference"] == pytest.approx(7.0)


def test_bpi_missing_item_rule_interference_four_of_seven() -> None:
    answers = skeleton("bpi")
    keys = list(answers["interference"])
    for key in keys[:3]:
        answers["interference"][key] = None
    answers["interference"][keys[3]] = 8  # 4 answered: 8, 0, 0, 0
    result = score("bpi", answers)
    assert result.details is not None and result.details["interference"] == pytest.approx(2.0)
    answers["interference"][keys[3]] = None  # 3 answered: not scored
    result = score("bpi", answers)
    assert result.details is not None and result.details["interference"] is None


def test_bpi_severity_needs_all_four() -> None:
    answers = skeleton("bpi")
    answers["severity"]["now"] = None
    result = score("bpi", answers)
    assert result.details is not None and result.details["severity"] is None


def test_bpi_relief_steps_of_ten() -> None:
    answers = skeleton("bpi")
    answers["relief_percent"] = 35
    with pytest.raises(ClinicalInputError) as exc:
        score("bpi", answers)
    assert exc.value.field == "relief_percent"


def test_bpi_bad_item_named() -> None:
    answers = skeleton("bpi")
    answers["interference"]["sleep"] = 11
    with pytest.raises(ClinicalInputError) as exc:
        score("bpi", answers)
    assert exc.value.field == "interference.sleep"


def test_bpi_licence_note() -> None:
    assert "COPYRIGHT" in template("bpi").licence.upper()


# --- CADSS-6, Aldrete -------------------------------------------------------------------------


def test_cadss6_total_and_licence() -> None:
    assert score("cadss6", {"items": [4] * 6}).score == 24
    assert "LICENCE UNCLEAR" in template("cadss6").licence
    with pytest.raises(ClinicalInputError) as exc:
        score("cadss6", {"items": [0, 0, 5, 0, 0, 0]})
    assert exc.value.field == "items[2]"


def aldrete(total: int) -> dict[str, int]:
    answers = skeleton("aldrete")
    for key in answers:
        answers[key] = min(2, total)
        total -= answers[key]
    return answers


@pytest.mark.parametrize(("total", "met"), [(8, False), (9, True), (10, True)])
def test_aldrete_discharge_threshold(total: int, met: bool) -> None:
    result = score("aldrete", aldrete(total))
    assert result.score == total and result.met is met


def test_aldrete_item_out_of_range() -> None:
    answers = aldrete(9)
    answers["respiration"] = 3
    with pytest.raises(ClinicalInputError) as exc:
        score("aldrete", answers)
    assert exc.value.field == "respiration"
