"""Coded medications: free text as people write it is coded to ingredients, and the screen
matches on ingredient or class; boundaries of the new contraindications (issue 11)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from painclinic.clinical.eligibility import (
    assess_eligibility,
    load_eligibility_policy,
    premedication_interactions,
)
from painclinic.clinical.medications import code_medication, load_medications
from painclinic.clinical.protocols import load_protocols
from tests.clinical.test_eligibility import clean

VOCAB = load_medications()


@pytest.mark.parametrize(
    ("text", "ingredients"),
    [
        ("Tambocor 100 mg twice daily", ("flecainide",)),
        ("flecainide acetate 50mg", ("flecainide",)),
        ("AMIODARONE HCL", ("amiodarone",)),
        ("Cordarone 200 mg od", ("amiodarone",)),
        ("propafenone HCl 150mg tid", ("propafenone",)),
        ("Rythmol", ("propafenone",)),
        ("Biaxin", ("clarithromycin",)),
        ("Biaxin XL 500 mg daily", ("clarithromycin",)),
        ("metoprolol tartrate 50 mg", ("metoprolol",)),
        ("Lopresor 25mg BID", ("metoprolol",)),
        ("rifampin 600 mg", ("rifampicin",)),
        ("Percocet 5/325 q6h prn", ("acetaminophen", "oxycodone")),
        ("Tylenol #3 1-2 tabs q4h", ("acetaminophen", "codeine")),
        ("Lyrica 75 mg bid", ("pregabalin",)),
        ("Ativan 1 mg SL prn", ("lorazepam",)),
        ("Nardil 15mg tid", ("phenelzine",)),
        ("Uniphyl 400 mg", ("theophylline",)),
        ("Ticlid", ("ticlopidine",)),
    ],
)
def test_free_text_is_coded_to_ingredients(text: str, ingredients: tuple[str, ...]) -> None:
    coded = code_medication(text, VOCAB)
    assert set(coded.ingredients) == set(ingredients)
    assert coded.recognised, coded


@pytest.mark.parametrize("text", ["foobarin 10 mg", "flecanide 100 mg", "the blue pill"])
def test_unknown_or_misspelt_entry_is_not_recognised(text: str) -> None:
    coded = code_medication(text, VOCAB)
    assert not coded.recognised


def test_known_drug_with_an_unknown_word_is_only_partly_recognised() -> None:
    coded = code_medication("metoprolol and zorblax", VOCAB)
    assert coded.ingredients == ("metoprolol",) and coded.unrecognised_words == ("zorblax",)
    assert not coded.recognised


def test_every_drug_named_in_a_rule_is_in_the_vocabulary() -> None:
    policy = load_eligibility_policy()
    for ix in policy.interactions:
        assert ix.ingredients <= set(VOCAB.ingredients), ix.id
        assert ix.classes <= set(VOCAB.class_names), ix.id
        members = [i for i, ing in VOCAB.ingredients.items() if ing.classes & ix.classes]
        assert ix.ingredients or members, ix.id


def test_vocabulary_says_honestly_what_the_brand_names_were_checked_against() -> None:
    assert "NOT checked against a Drug Product Database release" in VOCAB.source
    assert "clinic pharmacist" in VOCAB.source


def lidocaine_with(*meds: str) -> Any:
    facts = clean()
    facts["current_medications"] = list(meds)
    return assess_eligibility(facts)


@pytest.mark.parametrize(
    ("line", "rule_id", "category"),
    [
        ("Tambocor 100 mg twice daily", "LID-IX-002", "absolute"),
        ("flecainide acetate 50mg", "LID-IX-002", "absolute"),
        ("propafenone HCl 150 mg", "LID-IX-002", "absolute"),
        ("Cordarone 200 mg", "LID-IX-001", "absolute"),
        ("AMIODARONE HCL", "LID-IX-001", "absolute"),
        ("Biaxin 500 mg bid", "LID-IX-003", "relative"),
        ("metoprolol tartrate 50 mg", "LID-IX-005", "relative"),
        ("Inderal-LA 80 mg", "LID-IX-005", "relative"),
        ("Lidoderm patch", "LID-IX-006", "absolute"),
    ],
)
def test_lidocaine_screen_sees_brands_salts_and_doses(
    line: str, rule_id: str, category: str
) -> None:
    result = lidocaine_with(line).lidocaine
    reason = next(r for r in result.interactions if r.rule_id == rule_id)
    assert reason.category == category
    assert line in reason.detail
    expected = "not_eligible" if category == "absolute" else "eligible_with_cautions"
    assert result.status == expected


def test_lidocaine_does_not_interact_with_itself_through_its_own_class() -> None:
    # lidocaine is a class I antiarrhythmic in the vocabulary; an unrelated drug is quiet
    result = lidocaine_with("acetaminophen 500 mg").lidocaine
    assert result.interactions == () and result.status == "eligible"


@pytest.mark.parametrize(
    ("line", "rule_id"),
    [
        ("Biaxin", "KET-IX-001"),
        ("clarithromycin 500 mg", "KET-IX-001"),
        ("Ticlid 250 mg", "KET-IX-002"),
        ("Rifadin 600 mg", "KET-IX-003"),
        ("Ativan 1 mg", "KET-IX-004"),
        ("Hydromorph Contin 3 mg q12h", "KET-IX-005"),
        ("Lyrica 150 mg bid", "KET-IX-006"),
        ("Sudafed", "KET-IX-007"),
        ("Nardil 15 mg", "KET-IX-008"),
        ("theophylline 300 mg", "KET-IX-009"),
    ],
)
def test_ketamine_interactions_by_ingredient_or_class(line: str, rule_id: str) -> None:
    result = lidocaine_with(line).ketamine
    assert rule_id in {r.rule_id for r in result.interactions}
    assert result.status == "eligible_with_cautions"
    reason = next(r for r in result.interactions if r.rule_id == rule_id)
    assert reason.sources and reason.evidence == "secondary" and reason.clinic_configurable


def test_unrelated_medicine_is_quiet_for_ketamine() -> None:
    result = lidocaine_with("duloxetine 60 mg daily").ketamine
    assert result.interactions == () and result.status == "eligible"


def test_unrecognised_entry_is_a_warning_on_both_drugs_and_listed() -> None:
    result = lidocaine_with("Tambocor 100 mg", "zorblax 5 mg")
    for drug in (result.ketamine, result.lidocaine):
        missing = [r for r in drug.missing_information if "zorblax" in r.detail]
        assert missing and "check by hand" in missing[0].detail
    listed = {m["text"]: m for m in result.to_dict()["medications"]}
    assert listed["zorblax 5 mg"]["recognised_as"] == "not recognised, check by hand"
    assert listed["Tambocor 100 mg"]["ingredients"] == ["flecainide"]


def test_recognised_list_raises_no_unrecognised_warning() -> None:
    result = lidocaine_with("Tambocor 100 mg")
    assert "LID-MISS-004" not in result.lidocaine.rule_ids
    assert "KET-MISS-006" not in result.ketamine.rule_ids


def test_pre_coded_entry_keeps_the_text_and_adds_ingredients() -> None:
    facts = clean()
    facts["current_medications"] = [
        {"text": "heart pill (see letter)", "ingredients": ["flecainide"]}
    ]
    result = assess_eligibility(facts)
    assert "LID-IX-002" in result.lidocaine.rule_ids


def test_protocol_premedication_is_screened() -> None:
    protocol = load_protocols().get("ket-crps-outpatient")
    premeds = [p["drug"] for p in protocol.raw["premedication"]]
    reasons = premedication_interactions("ketamine", premeds)
    assert "KET-IX-004" in {r.rule_id for r in reasons}  # midazolam: benzodiazepine
    assert premedication_interactions("ketamine", []) == []


# --- boundaries of the new contraindications ---------------------------------------------


def with_(**changes: Any) -> dict[str, Any]:
    facts = clean()
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(facts.get(key), dict):
            facts[key] = {**facts[key], **copy.deepcopy(value)}
        else:
            facts[key] = value
    return facts


@pytest.mark.parametrize(("dbp", "fires"), [(100, False), (101, True)])
def test_diastolic_pressure_limit(dbp: int, fires: bool) -> None:
    result = assess_eligibility(with_(vitals={"systolic_bp_mmhg": 150, "diastolic_bp_mmhg": dbp}))
    assert ("KET-CI-007" in result.ketamine.rule_ids) is fires


@pytest.mark.parametrize(("hr", "fires"), [(100, False), (101, True)])
def test_tachycardia_at_rest(hr: int, fires: bool) -> None:
    result = assess_eligibility(with_(vitals={"heart_rate_bpm": hr}))
    assert ("KET-REL-006" in result.ketamine.rule_ids) is fires
    assert "KET-CI-007" not in result.ketamine.rule_ids


@pytest.mark.parametrize(("age", "fires"), [(17, True), (17.99, True), (18, False)])
def test_adults_only(age: float, fires: bool) -> None:
    result = assess_eligibility(with_(age_years=age))
    assert ("KET-CI-011" in result.ketamine.rule_ids) is fires
    assert ("LID-CI-011" in result.lidocaine.rule_ids) is fires


@pytest.mark.parametrize("flag", ["history_psychosis_or_mania", "poorly_controlled_psychosis"])
def test_psychosis_history_is_absolute_not_only_poorly_controlled(flag: str) -> None:
    facts = clean()
    facts["psychiatric"][flag] = True
    assert assess_eligibility(facts).ketamine.status == "not_eligible"
    facts["psychiatric"][flag] = False
    assert assess_eligibility(facts).ketamine.status == "eligible"


@pytest.mark.parametrize("flag", ["recent_myocardial_infarction", "heart_failure",
                                  "unstable_angina", "stroke", "aneurysm"])  # fmt: skip
def test_severe_cardiovascular_disease_is_absolute_for_ketamine(flag: str) -> None:
    facts = clean()
    facts["comorbidities"][flag] = True
    result = assess_eligibility(facts).ketamine
    assert "KET-CI-001" in result.rule_ids and result.status == "not_eligible"


def test_documented_phn_with_dn4_below_cut_off_is_not_absolute() -> None:
    facts = clean()
    facts["diagnosis"] = {
        "condition": "phn",
        "criteria": {"instrument": "dn4", "met": False},
        "clinician_confirmed": True,
        "findings": {"months_since_rash": 6},
    }
    result = assess_eligibility(facts)
    for drug in (result.ketamine, result.lidocaine):
        assert drug.absolute_contraindications == ()
        assert drug.status == "eligible_with_cautions"
    assert "KET-DX-002" in result.ketamine.rule_ids and "KET-DX-001" not in result.ketamine.rule_ids


def test_budapest_not_met_stays_absolute() -> None:
    facts = clean()
    facts["diagnosis"]["criteria"]["met"] = False
    assert assess_eligibility(facts).ketamine.status == "not_eligible"
    assert assess_eligibility(facts).lidocaine.status == "not_eligible"


@pytest.mark.parametrize(("months", "fires"), [(2.9, True), (3, False)])
def test_phn_needs_three_months_after_the_rash(months: float, fires: bool) -> None:
    facts = clean()
    facts["diagnosis"] = {
        "condition": "phn",
        "criteria": {"instrument": "dn4", "met": True},
        "findings": {"months_since_rash": months},
    }
    result = assess_eligibility(facts)
    assert ("KET-DX-003" in result.ketamine.rule_ids) is fires
    assert ("LID-DX-003" in result.lidocaine.rule_ids) is fires


@pytest.mark.parametrize(("confirmed", "rule"), [(False, "KET-DX-003"), (None, "KET-MISS-007")])
def test_diabetic_neuropathy_must_be_confirmed(confirmed: bool | None, rule: str) -> None:
    facts = clean()
    facts["diagnosis"] = {
        "condition": "pdn",
        "criteria": {"instrument": "dn4", "met": True},
        "findings": {"diabetic_neuropathy_confirmed": confirmed},
    }
    assert rule in assess_eligibility(facts).ketamine.rule_ids
    facts["diagnosis"]["findings"]["diabetic_neuropathy_confirmed"] = True
    ids = assess_eligibility(facts).ketamine.rule_ids
    assert "KET-DX-003" not in ids and "KET-MISS-007" not in ids


@pytest.mark.parametrize(
    ("flags", "ecg_block", "rule", "status"),
    [
        (["conduction_block"], False, "LID-CI-002", "not_eligible"),
        ([], True, "LID-CI-002", "not_eligible"),
        (["conduction_block", "pacemaker"], False, "LID-REL-004", "eligible_with_cautions"),
        (["pacemaker"], True, "LID-REL-004", "eligible_with_cautions"),
    ],
)
def test_conduction_disease_absolute_without_pacemaker_relative_with(
    flags: list[str], ecg_block: bool, rule: str, status: str
) -> None:
    facts = clean()
    for f in flags:
        facts["comorbidities"][f] = True
    facts["ecg"]["conduction_block"] = ecg_block
    result = assess_eligibility(facts).lidocaine
    assert rule in result.rule_ids and result.status == status
    if "pacemaker" in flags:
        assert "LID-CI-002" not in result.rule_ids


def test_pre_excitation_on_the_ecg_is_absolute_for_lidocaine() -> None:
    facts = clean()
    facts["ecg"]["pre_excitation"] = True
    assert "LID-CI-012" in assess_eligibility(facts).lidocaine.rule_ids
    facts["ecg"]["pre_excitation"] = False
    assert "LID-CI-012" not in assess_eligibility(facts).lidocaine.rule_ids


def test_repeat_ketamine_series_needs_liver_tests() -> None:
    facts = clean()  # has an earlier 100 mg ketamine infusion
    facts["labs"] = {"liver_tests_on_file": False}
    reason = next(
        r
        for r in assess_eligibility(facts).ketamine.missing_information
        if r.rule_id == "KET-MISS-002"
    )
    assert "repeat ketamine series" in reason.detail and "noppers2011" in reason.sources
    facts["prior_treatments"] = [
        t for t in facts["prior_treatments"] if t["treatment"] != "ketamine"
    ]
    assert "KET-MISS-002" not in assess_eligibility(facts).ketamine.rule_ids


def test_every_reason_carries_its_evidence() -> None:
    facts = clean()
    facts["age_years"] = 17
    facts["vitals"]["diastolic_bp_mmhg"] = 110
    result = assess_eligibility(facts).ketamine
    evidence = {r.rule_id: r.evidence for r in result.absolute_contraindications}
    assert evidence["KET-CI-011"] == "clinic_policy"
    assert evidence["KET-CI-007"] == "secondary"  # the diastolic limit is from a label [S2]
