"""Every eligibility rule fires on a case built for it and stays quiet on a clean patient."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from painclinic.clinical import ClinicalInputError
from painclinic.clinical.eligibility import (
    CHECKS,
    COMORBIDITIES,
    assess_eligibility,
    facts_template,
    load_eligibility_policy,
)
from painclinic.clinical.policy import POLICY_DIR_ENV, load_policy

ADEQUATE_CRPS = [
    {"treatment": "physical_therapy", "duration_weeks": 12, "outcome": "partial_relief"},
    {"treatment": "gabapentin", "max_daily_dose_mg": 1800, "duration_weeks": 8,
     "outcome": "no_relief"},
    {"treatment": "pamidronate", "duration_weeks": 4, "outcome": "no_relief"},
    {"treatment": "ketamine", "total_dose_mg": 100, "infusion_duration_h": 4,
     "outcome": "no_relief"},
]  # fmt: skip


def clean() -> dict[str, Any]:
    facts = facts_template()
    facts.update(
        age_years=50,
        weight_kg=70,
        diagnosis={"condition": "crps_1", "criteria": {"instrument": "budapest", "met": True}},
        prior_treatments=copy.deepcopy(ADEQUATE_CRPS),
        vitals={"systolic_bp_mmhg": 130, "diastolic_bp_mmhg": 80, "heart_rate_bpm": 70},
        pregnancy="not_pregnant",
        ecg={
            "conduction_block": False,
            "atrial_fibrillation": False,
            "qrs_widening": False,
            "pr_prolongation": False,
        },
        labs={"liver_tests_on_file": True},
    )
    return facts


def test_clean_patient_is_eligible_for_both() -> None:
    result = assess_eligibility(clean())
    assert result.ketamine.status == "eligible", result.ketamine.to_dict()
    assert result.lidocaine.status == "eligible", result.lidocaine.to_dict()
    assert result.ketamine.rule_ids == set() and result.lidocaine.rule_ids == set()


def comorbidity(name: str) -> Callable[[dict[str, Any]], None]:
    def mutate(f: dict[str, Any]) -> None:
        f["comorbidities"][name] = True

    return mutate


def setter(*path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(f: dict[str, Any]) -> None:
        target = f
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def neuropathic_weak(f: dict[str, Any]) -> None:
    f["diagnosis"] = {"condition": "phn", "criteria": {"instrument": "dn4", "met": True}}
    f["prior_treatments"] = [
        {"treatment": "pregabalin", "max_daily_dose_mg": 300, "duration_weeks": 6,
         "outcome": "no_relief"},
        {"treatment": "duloxetine", "max_daily_dose_mg": 60, "duration_weeks": 6,
         "outcome": "not_tolerated"},
        {"treatment": "nortriptyline", "max_daily_dose_mg": 50, "duration_weeks": 6,
         "outcome": "partial_relief"},
        ADEQUATE_CRPS[3],
    ]  # fmt: skip


def phn(months: float | None = 4, met: bool | None = True, confirmed: bool | None = None):
    def mutate(f: dict[str, Any]) -> None:
        neuropathic_weak(f)
        f["diagnosis"]["criteria"]["met"] = met
        f["diagnosis"]["findings"] = {"months_since_rash": months}
        f["diagnosis"]["clinician_confirmed"] = confirmed

    return mutate


def both(*mutations: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(f: dict[str, Any]) -> None:
        for m in mutations:
            m(f)

    return mutate


# (rule id, drug, mutation that should fire it, category)
CASES: list[tuple[str, str, Callable[[dict[str, Any]], None], str]] = [
    ("KET-CI-001", "ketamine", comorbidity("poorly_controlled_cardiovascular_disease"), "absolute"),
    ("KET-CI-002", "ketamine", setter("psychiatric", "poorly_controlled_psychosis", value=True),
     "absolute"),
    ("KET-CI-003", "ketamine", comorbidity("severe_hepatic_impairment"), "absolute"),
    ("KET-CI-004", "ketamine", comorbidity("raised_intracranial_pressure"), "absolute"),
    ("KET-CI-005", "ketamine", comorbidity("raised_intraocular_pressure"), "absolute"),
    ("KET-CI-006", "ketamine", setter("pregnancy", value="pregnant"), "absolute"),
    ("KET-CI-007", "ketamine", setter("vitals", "systolic_bp_mmhg", value=181), "absolute"),
    ("KET-CI-008", "ketamine", setter("psychiatric", "history_psychosis_or_mania", value=True),
     "absolute"),
    ("KET-CI-009", "ketamine", comorbidity("ketamine_hypersensitivity"), "absolute"),
    ("KET-CI-010", "ketamine", comorbidity("untreated_hyperthyroidism"), "absolute"),
    ("KET-CI-011", "ketamine", setter("age_years", value=17), "absolute"),
    ("KET-DX-001", "ketamine", setter("diagnosis", "criteria", "met", value=False), "absolute"),
    ("KET-DX-002", "ketamine", phn(met=False, confirmed=True), "relative"),
    ("KET-DX-003", "ketamine", phn(months=2.9), "absolute"),
    ("KET-DX-004", "ketamine", setter("diagnosis", "clinician_confirmed", value=False),
     "absolute"),
    ("KET-REL-006", "ketamine", setter("vitals", "heart_rate_bpm", value=101), "relative"),
    ("KET-REL-001", "ketamine", comorbidity("moderate_hepatic_impairment"), "relative"),
    ("KET-REL-002", "ketamine",
     setter("substance_use", "active_substance_use_disorder", value=True), "relative"),
    ("KET-REL-003", "ketamine",
     setter("substance_use", "history_substance_use_disorder", value=True), "relative"),
    ("KET-REL-004", "ketamine", neuropathic_weak, "relative"),
    ("KET-REL-005", "ketamine", setter("psychiatric", "self_harm_risk", value=True), "relative"),
    ("KET-MISS-001", "ketamine",
     lambda f: (comorbidity("cardiac_risk_factors")(f), f.update(ecg=None)), "missing"),
    ("KET-MISS-002", "ketamine",
     lambda f: (comorbidity("moderate_hepatic_impairment")(f),
                f.update(labs={"liver_tests_on_file": False})), "missing"),
    ("KET-MISS-003", "ketamine", setter("pregnancy", value="unknown"), "missing"),
    ("KET-MISS-004", "ketamine", setter("diagnosis", "criteria", value=None), "missing"),
    ("KET-MISS-005", "ketamine", setter("vitals", "heart_rate_bpm", value=None), "missing"),
    ("KET-MISS-006", "ketamine", setter("current_medications", value=["foobarin 10 mg"]),
     "missing"),
    ("KET-MISS-007", "ketamine", phn(months=None), "missing"),
    ("KET-MISS-008", "ketamine", phn(met=False), "missing"),
    ("LID-CI-001", "lidocaine", comorbidity("amide_local_anaesthetic_allergy"), "absolute"),
    ("LID-CI-002", "lidocaine", comorbidity("conduction_block"), "absolute"),
    ("LID-CI-003", "lidocaine", comorbidity("poorly_controlled_cardiovascular_disease"),
     "absolute"),
    ("LID-CI-004", "lidocaine", comorbidity("severe_renal_impairment"), "absolute"),
    ("LID-CI-005", "lidocaine", comorbidity("severe_hepatic_impairment"), "absolute"),
    ("LID-CI-006", "lidocaine", comorbidity("reduced_consciousness"), "absolute"),
    ("LID-CI-007", "lidocaine", comorbidity("seizure_disorder"), "absolute"),
    ("LID-CI-008", "lidocaine", setter("pregnancy", value="pregnant"), "absolute"),
    ("LID-CI-009", "lidocaine", setter("other_local_anaesthetic_within_4h", value=True),
     "absolute"),
    ("LID-CI-010", "lidocaine", setter("weight_kg", value=39.9), "absolute"),
    ("LID-CI-011", "lidocaine", setter("age_years", value=17), "absolute"),
    ("LID-CI-012", "lidocaine", comorbidity("pre_excitation"), "absolute"),
    ("LID-DX-001", "lidocaine", setter("diagnosis", "criteria", "met", value=False), "absolute"),
    ("LID-DX-002", "lidocaine", phn(met=False, confirmed=True), "relative"),
    ("LID-DX-003", "lidocaine", phn(months=2.9), "absolute"),
    ("LID-DX-004", "lidocaine", setter("diagnosis", "clinician_confirmed", value=False),
     "absolute"),
    ("LID-REL-001", "lidocaine", comorbidity("heart_failure"), "relative"),
    ("LID-REL-002", "lidocaine", setter("age_years", value=65), "relative"),
    ("LID-REL-003", "lidocaine", setter("ecg", "qrs_widening", value=True), "relative"),
    ("LID-REL-004", "lidocaine", both(comorbidity("conduction_block"), comorbidity("pacemaker")),
     "relative"),
    ("LID-MISS-001", "lidocaine", setter("ecg", value=None), "missing"),
    ("LID-MISS-002", "lidocaine", setter("pregnancy", value="unknown"), "missing"),
    ("LID-MISS-003", "lidocaine", setter("weight_kg", value=None), "missing"),
    ("LID-MISS-004", "lidocaine", setter("current_medications", value=["foobarin"]), "missing"),
    ("LID-MISS-005", "lidocaine", phn(months=None), "missing"),
    ("LID-MISS-006", "lidocaine", phn(met=False), "missing"),
    ("LID-MISS-007", "lidocaine", setter("diagnosis", "criteria", value=None), "missing"),
]  # fmt: skip

STATUS_FOR = {
    "absolute": "not_eligible",
    "relative": "eligible_with_cautions",
    "missing": "eligible_with_cautions",
}


def test_every_coded_rule_has_a_case() -> None:
    assert {c[0] for c in CASES} == set(CHECKS)


@pytest.mark.parametrize(
    ("rule_id", "drug", "mutate", "category"), CASES, ids=[c[0] for c in CASES]
)
def test_rule_fires(
    rule_id: str, drug: str, mutate: Callable[[dict[str, Any]], None], category: str
) -> None:
    facts = clean()
    mutate(facts)
    result = getattr(assess_eligibility(facts), drug)
    assert rule_id in result.rule_ids
    assert result.status == STATUS_FOR[category]
    bucket = {
        "absolute": result.absolute_contraindications,
        "relative": result.relative_contraindications,
        "missing": result.missing_information,
    }[category]
    reason = next(r for r in bucket if r.rule_id == rule_id)
    assert reason.sources and reason.message


@pytest.mark.parametrize(("rule_id", "drug"), [(c[0], c[1]) for c in CASES])
def test_rule_quiet_on_clean_patient(rule_id: str, drug: str) -> None:
    assert rule_id not in getattr(assess_eligibility(clean()), drug).rule_ids


def test_ketamine_vitals_at_limits_do_not_fire() -> None:
    facts = clean()
    facts["vitals"].update(systolic_bp_mmhg=180, heart_rate_bpm=150)
    assert "KET-CI-007" not in assess_eligibility(facts).ketamine.rule_ids
    facts["vitals"]["heart_rate_bpm"] = 151
    assert "KET-CI-007" in assess_eligibility(facts).ketamine.rule_ids


def test_lidocaine_weight_at_40_kg_does_not_fire() -> None:
    facts = clean()
    facts["weight_kg"] = 40
    assert "LID-CI-010" not in assess_eligibility(facts).lidocaine.rule_ids


def test_lidocaine_age_64_does_not_fire() -> None:
    facts = clean()
    facts["age_years"] = 64
    assert "LID-REL-002" not in assess_eligibility(facts).lidocaine.rule_ids


def test_ketamine_ecg_not_needed_without_cardiac_risk() -> None:
    facts = clean()
    facts["ecg"] = None
    assert "KET-MISS-001" not in assess_eligibility(facts).ketamine.rule_ids


def test_arrhythmia_from_ecg_finding() -> None:
    facts = clean()
    facts["ecg"]["conduction_block"] = True
    assert "LID-CI-002" in assess_eligibility(facts).lidocaine.rule_ids


# --- stepped care ---------------------------------------------------------------------------


def test_neuropathic_gaps_name_the_missing_neupsig_class() -> None:
    facts = clean()
    neuropathic_weak(facts)
    facts["prior_treatments"] = [
        {"treatment": "gabapentin", "max_daily_dose_mg": 900, "duration_weeks": 8,
         "outcome": "no_relief"},
        {"treatment": "duloxetine", "max_daily_dose_mg": 60, "duration_weeks": 2,
         "outcome": "no_relief"},
        {"treatment": "amitriptyline", "outcome": "contraindicated"},
    ]  # fmt: skip
    gaps = {g.option_id: g for g in assess_eligibility(facts).ketamine.stepped_care_gaps}
    assert set(gaps) == {"gabapentinoid", "snri"}
    assert "900 mg/day < 1200 mg/day" in gaps["gabapentinoid"].detail
    assert "2 weeks < 4 weeks" in gaps["snri"].detail
    assert "finnerup2015" in gaps["snri"].sources


def test_stepped_care_gap_makes_cautions_and_quiet_when_adequate() -> None:
    facts = clean()
    facts["prior_treatments"] = facts["prior_treatments"][1:]
    result = assess_eligibility(facts)
    assert [g.option_id for g in result.ketamine.stepped_care_gaps] == ["rehabilitation"]
    assert result.ketamine.status == "eligible_with_cautions"
    assert "KET-STEP-001" in result.ketamine.rule_ids
    assert "LID-STEP-001" in result.lidocaine.rule_ids


def test_fibromyalgia_first_line_differs_from_neuropathic() -> None:
    facts = clean()
    facts["diagnosis"] = {
        "condition": "fibromyalgia",
        "criteria": {"instrument": "acr2016", "met": True},
    }
    gaps = {g.option_id for g in assess_eligibility(facts).ketamine.stepped_care_gaps}
    assert "exercise" in gaps and "snri" not in gaps


def test_lidocaine_needs_an_adequate_ketamine_trial() -> None:
    facts = clean()
    facts["prior_treatments"][3] = {
        "treatment": "ketamine",
        "total_dose_mg": 80,
        "infusion_duration_h": 2,
        "outcome": "no_relief",
    }
    result = assess_eligibility(facts)
    assert "LID-STEP-002" in result.lidocaine.rule_ids
    facts["prior_treatments"][3]["infusion_duration_h"] = 2.5
    assert "LID-STEP-002" not in assess_eligibility(facts).lidocaine.rule_ids
    facts["prior_treatments"][3]["total_dose_mg"] = 79
    assert "LID-STEP-002" in assess_eligibility(facts).lidocaine.rule_ids


# --- interactions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("medicine", "rule_id", "status", "ketamine_status"),
    [
        ("amiodarone", "LID-IX-001", "not_eligible", "eligible"),
        # phenytoin and fluconazole also change ketamine exposure (inducer, CYP3A4 inhibitor)
        ("phenytoin", "LID-IX-001", "not_eligible", "eligible_with_cautions"),
        ("flecainide", "LID-IX-002", "not_eligible", "eligible"),
        ("fluconazole", "LID-IX-003", "eligible_with_cautions", "eligible_with_cautions"),
        ("Paroxetine", "LID-IX-003", "eligible_with_cautions", "eligible"),
        ("fluvoxamine", "LID-IX-004", "eligible_with_cautions", "eligible"),
    ],
)
def test_interaction_fires(medicine: str, rule_id: str, status: str, ketamine_status: str) -> None:
    facts = clean()
    facts["current_medications"] = [medicine]
    result = assess_eligibility(facts)
    assert rule_id in result.lidocaine.rule_ids
    assert result.lidocaine.status == status
    assert result.ketamine.status == ketamine_status


def test_interaction_quiet_for_unrelated_medicine() -> None:
    facts = clean()
    facts["current_medications"] = ["acetaminophen"]
    assert assess_eligibility(facts).lidocaine.interactions == ()


def test_amiodarone_fires_antiarrhythmic_and_cyp_rules() -> None:
    facts = clean()
    facts["current_medications"] = ["amiodarone"]
    ids = assess_eligibility(facts).lidocaine.rule_ids
    assert {"LID-IX-001", "LID-IX-003"} <= ids


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (setter("comorbidities", "gout", value=True), "comorbidities.gout"),
        (setter("diagnosis", "condition", value="migraine"), "diagnosis.condition"),
        (setter("diagnosis", "criteria", "instrument", value="acr2016"),
         "diagnosis.criteria.instrument"),
        (setter("vitals", "heart_rate_bpm", value="fast"), "vitals.heart_rate_bpm"),
        (setter("pregnancy", value="maybe"), "pregnancy"),
        (setter("prior_treatments", 0, "outcome", value="meh"), "prior_treatments[0].outcome"),
        (setter("extra", value=1), "extra"),
        (setter("weight_kg", value=-3), "weight_kg"),
    ],
)  # fmt: skip
def test_bad_facts_name_the_item(mutate: Callable[[dict[str, Any]], None], field: str) -> None:
    facts = clean()
    mutate(facts)
    with pytest.raises(ClinicalInputError) as exc:
        assess_eligibility(facts)
    assert exc.value.field == field


def test_missing_key() -> None:
    facts = clean()
    del facts["labs"]
    with pytest.raises(ClinicalInputError) as exc:
        assess_eligibility(facts)
    assert exc.value.field == "labs"


# --- policy as data -------------------------------------------------------------------------


def write_policy(tmp_path: Path, name: str, data: dict[str, Any]) -> None:
    data = {k: v for k, v in data.items() if k != "_origin"}
    (tmp_path / name).write_text(json.dumps(data), encoding="utf-8")


def test_clinic_can_reclassify_and_disable_rules(tmp_path: Path) -> None:
    rules = load_policy("eligibility_rules.json")
    for rule in rules["rules"]:
        if rule["id"] == "KET-CI-004":
            rule["category"] = "relative"
        if rule["id"] == "KET-CI-005":
            rule["enabled"] = False
    write_policy(tmp_path, "eligibility_rules.json", rules)
    facts = clean()
    facts["comorbidities"].update(
        raised_intracranial_pressure=True, raised_intraocular_pressure=True
    )
    result = assess_eligibility(facts, policy_dir=tmp_path)
    assert result.ketamine.status == "eligible_with_cautions"
    assert [r.rule_id for r in result.ketamine.relative_contraindications] == ["KET-CI-004"]


def test_env_var_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = load_policy("eligibility_rules.json")
    for rule in rules["rules"]:
        if rule["id"] == "LID-CI-010":
            rule["parameters"]["min_weight_kg"]["value"] = 50
    rules["version"] = "clinic-1"
    write_policy(tmp_path, "eligibility_rules.json", rules)
    monkeypatch.setenv(POLICY_DIR_ENV, str(tmp_path))
    facts = clean()
    facts["weight_kg"] = 45
    result = assess_eligibility(facts)
    assert "LID-CI-010" in result.lidocaine.rule_ids
    assert result.policy_versions["eligibility_rules"] == "clinic-1"


def test_missing_or_unknown_rule_in_policy_rejected(tmp_path: Path) -> None:
    rules = load_policy("eligibility_rules.json")
    rules["rules"] = rules["rules"][1:]
    write_policy(tmp_path, "eligibility_rules.json", rules)
    with pytest.raises(ClinicalInputError):
        load_eligibility_policy(tmp_path)
    rules = load_policy("eligibility_rules.json")
    rules["rules"][0]["id"] = "KET-CI-999"
    write_policy(tmp_path, "eligibility_rules.json", rules)
    with pytest.raises(ClinicalInputError) as exc:
        load_eligibility_policy(tmp_path)
    assert exc.value.field == "rules[0].id"


def test_missing_category_cannot_become_absolute(tmp_path: Path) -> None:
    rules = load_policy("eligibility_rules.json")
    for rule in rules["rules"]:
        if rule["id"] == "LID-MISS-001":
            rule["category"] = "absolute"
    write_policy(tmp_path, "eligibility_rules.json", rules)
    with pytest.raises(ClinicalInputError):
        load_eligibility_policy(tmp_path)


def test_every_rule_and_interaction_cites_a_source() -> None:
    policy = load_eligibility_policy()
    assert all(rule.sources for rule in policy.rules.values())
    assert all(ix.sources for ix in policy.interactions)


# --- properties -----------------------------------------------------------------------------


STATUS_RANK = {"eligible": 0, "eligible_with_cautions": 1, "not_eligible": 2}


# A pacemaker is the one recorded fact that lowers a risk (conduction disease becomes relative).
WORSENING = tuple(c for c in COMORBIDITIES if c != "pacemaker")


@settings(max_examples=60)
@given(st.sets(st.sampled_from(WORSENING)), st.sampled_from(WORSENING))
def test_adding_a_comorbidity_never_improves_status(present: set[str], extra: str) -> None:
    facts = clean()
    for name in present:
        facts["comorbidities"][name] = True
    before = assess_eligibility(facts)
    facts["comorbidities"][extra] = True
    after = assess_eligibility(facts)
    for drug in ("ketamine", "lidocaine"):
        b, a = getattr(before, drug), getattr(after, drug)
        assert STATUS_RANK[a.status] >= STATUS_RANK[b.status]
        assert a.rule_ids >= b.rule_ids
