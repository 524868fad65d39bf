"""Every monitoring rule fires on its threshold and stays quiet one step the other side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from painclinic.clinical import ClinicalInputError
from painclinic.clinical.monitoring import (
    INTEGER_MEASURES,
    Action,
    evaluate_observation,
    load_thresholds,
)
from painclinic.clinical.policy import load_policy

THRESHOLDS = load_thresholds()
SYMPTOMS = THRESHOLDS.symptom_ids
NORMAL: dict[str, Any] = {
    "elapsed_min": 30,
    "systolic_bp_mmhg": 125,
    "diastolic_bp_mmhg": 75,
    "heart_rate_bpm": 75,
    "respiratory_rate_per_min": 14,
    "spo2_percent": 98,
    "rass": 0,
    "moaas": 5,
    "cadss6": 0,
    "symptoms": [],
}


@pytest.mark.parametrize("drug", ["ketamine", "lidocaine"])
def test_normal_observation_continues(drug: str) -> None:
    decision = evaluate_observation(NORMAL, {"drug": drug, "rate_mg_per_h": 20})
    assert decision.action == Action.CONTINUE and decision.reasons == ()
    assert decision.not_recorded == ()


def _step(measure: str) -> float:
    return 1 if measure in INTEGER_MEASURES else 0.5


def _quiet_value(comparison: str, value: float, step: float) -> float:
    # the nearest value on the other side of the threshold
    return {">": value, ">=": value - step, "<": value, "<=": value + step}[comparison]


def _fire_value(comparison: str, value: float, step: float) -> float:
    return {">": value + step, ">=": value, "<": value - step, "<=": value}[comparison]


def _value(measure: str, value: float) -> float | int:
    return int(value) if measure in INTEGER_MEASURES else value


RULES = THRESHOLDS.threshold_rules


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_threshold_rule_fires_at_the_threshold(rule: Any) -> None:
    value = _fire_value(rule.comparison, rule.value, _step(rule.measure))
    obs = {**NORMAL, rule.measure: _value(rule.measure, value)}
    drug = sorted(rule.drugs)[0]
    decision = evaluate_observation(obs, {"drug": drug})
    assert rule.id in decision.rule_ids
    assert decision.action.severity >= rule.action.severity


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_threshold_rule_quiet_one_step_away(rule: Any) -> None:
    value = _quiet_value(rule.comparison, rule.value, _step(rule.measure))
    obs = {**NORMAL, rule.measure: _value(rule.measure, value)}
    decision = evaluate_observation(obs, {"drug": sorted(rule.drugs)[0]})
    assert rule.id not in decision.rule_ids


SYMPTOM_RULES = THRESHOLDS.symptom_rules


@pytest.mark.parametrize("rule", SYMPTOM_RULES, ids=[r.id for r in SYMPTOM_RULES])
def test_symptom_rule_fires_for_each_symptom(rule: Any) -> None:
    drug = sorted(rule.drugs)[0]
    for symptom in rule.symptoms:
        decision = evaluate_observation({**NORMAL, "symptoms": [symptom]}, {"drug": drug})
        assert rule.id in decision.rule_ids
        assert decision.action.severity >= rule.action.severity


@pytest.mark.parametrize("rule", SYMPTOM_RULES, ids=[r.id for r in SYMPTOM_RULES])
def test_symptom_rule_quiet_without_its_symptoms(rule: Any) -> None:
    other = [s for s in ("nausea", "headache") if s not in rule.symptoms]
    decision = evaluate_observation({**NORMAL, "symptoms": other}, {"drug": sorted(rule.drugs)[0]})
    assert rule.id not in decision.rule_ids


def test_required_actions() -> None:
    ket = {"drug": "ketamine"}
    lid = {"drug": "lidocaine"}
    assert evaluate_observation({**NORMAL, "systolic_bp_mmhg": 181}, ket).action == "pause"
    assert evaluate_observation({**NORMAL, "systolic_bp_mmhg": 180}, ket).action == "continue"
    assert evaluate_observation({**NORMAL, "heart_rate_bpm": 121}, ket).action == "pause"
    assert (
        evaluate_observation({**NORMAL, "respiratory_rate_per_min": 9}, ket).action
        == "stop_and_call_physician"
    )
    assert evaluate_observation({**NORMAL, "respiratory_rate_per_min": 10}, ket).action == (
        "continue"
    )
    assert (
        evaluate_observation({**NORMAL, "symptoms": ["perioral_numbness"]}, lid).action
        == "stop_and_call_physician"
    )
    assert evaluate_observation({**NORMAL, "symptoms": ["seizure"]}, ket).action == "emergency"
    assert evaluate_observation({**NORMAL, "symptoms": ["arrhythmia"]}, lid).action == "emergency"


def test_last_prodrome_stops_lidocaine_not_ketamine() -> None:
    decision = evaluate_observation({**NORMAL, "symptoms": ["tinnitus"]}, {"drug": "ketamine"})
    assert decision.action == "continue"
    assert decision.rule_ids == ("MON-KET-005",)  # decided on purpose, with its message


def test_dissociation_rule_is_ketamine_only() -> None:
    assert evaluate_observation({**NORMAL, "cadss6": 20}, {"drug": "ketamine"}).action == (
        "reduce_rate"
    )
    assert evaluate_observation({**NORMAL, "cadss6": 20}, {"drug": "lidocaine"}).action == (
        "continue"
    )


def test_most_severe_action_wins_and_all_reasons_kept() -> None:
    obs = {**NORMAL, "systolic_bp_mmhg": 190, "diastolic_bp_mmhg": 95, "rass": -4}
    decision = evaluate_observation(obs, {"drug": "ketamine"})
    assert decision.action == "emergency"
    assert {"MON-VS-001", "MON-SED-001", "MON-SED-002", "MON-SED-003"} <= set(decision.rule_ids)
    assert decision.reasons[0].action == "emergency"


def test_not_recorded_lists_missing_vitals() -> None:
    decision = evaluate_observation({"symptoms": []}, {"drug": "ketamine"})
    assert "spo2_percent" in decision.not_recorded
    assert "diastolic_bp_mmhg" in decision.not_recorded
    assert "sedation (rass or moaas)" in decision.not_recorded


@pytest.mark.parametrize(
    ("obs", "infusion", "field"),
    [
        ({"heart_rate": 80}, {"drug": "ketamine"}, "observation.heart_rate"),
        ({"rass": -6}, {"drug": "ketamine"}, "observation.rass"),
        ({"spo2_percent": 101}, {"drug": "ketamine"}, "observation.spo2_percent"),
        ({"symptoms": ["sneezing"]}, {"drug": "ketamine"}, "observation.symptoms[0]"),
        ({}, {"drug": "propofol"}, "infusion.drug"),
    ],
)
def test_bad_input_names_the_item(obs: Any, infusion: Any, field: str) -> None:
    with pytest.raises(ClinicalInputError) as exc:
        evaluate_observation(obs, infusion)
    assert exc.value.field == field


def test_every_rule_cites_a_source() -> None:
    for rule in (*THRESHOLDS.threshold_rules, *THRESHOLDS.symptom_rules):
        assert rule.sources, rule.id


def test_clinic_can_change_a_threshold(tmp_path: Path) -> None:
    data = load_policy("monitoring_thresholds.json")
    data.pop("_origin")
    for rule in data["threshold_rules"]:
        if rule["id"] == "MON-VS-001":
            rule["value"] = 160
    (tmp_path / "monitoring_thresholds.json").write_text(json.dumps(data))
    thresholds = load_thresholds(tmp_path)
    obs = {**NORMAL, "systolic_bp_mmhg": 170}
    assert evaluate_observation(obs, {"drug": "ketamine"}, thresholds).action == "pause"


def test_bad_threshold_file_is_rejected(tmp_path: Path) -> None:
    data = load_policy("monitoring_thresholds.json")
    data.pop("_origin")
    data["threshold_rules"][0]["action"] = "panic"
    (tmp_path / "monitoring_thresholds.json").write_text(json.dumps(data))
    with pytest.raises(ClinicalInputError) as exc:
        load_thresholds(tmp_path)
    assert exc.value.field == "threshold_rules[0].action"


# --- properties -----------------------------------------------------------------------------


@given(
    st.sets(st.sampled_from(SYMPTOMS)),
    st.sampled_from(SYMPTOMS),
    st.sampled_from(["ketamine", "lidocaine"]),
)
def test_adding_a_symptom_never_lowers_the_action(present: set[str], extra: str, drug: str) -> None:
    before = evaluate_observation({**NORMAL, "symptoms": sorted(present)}, {"drug": drug})
    after = evaluate_observation({**NORMAL, "symptoms": sorted(present | {extra})}, {"drug": drug})
    assert after.action.severity >= before.action.severity


# --- issue 11 item 5: diastolic, own baseline, triggers, vocabulary, incomplete rounds --------

KET = {"drug": "ketamine"}
LID = {"drug": "lidocaine"}
BASELINE = {"systolic_bp_mmhg": 120, "diastolic_bp_mmhg": 75, "heart_rate_bpm": 70}


@pytest.mark.parametrize("drug", [KET, LID])
def test_diastolic_above_100_pauses_at_100_does_not(drug: dict[str, str]) -> None:
    assert evaluate_observation({**NORMAL, "diastolic_bp_mmhg": 101}, drug).action == "pause"
    assert evaluate_observation({**NORMAL, "diastolic_bp_mmhg": 100}, drug).action == "continue"


def test_low_diastolic_stops_below_50() -> None:
    assert evaluate_observation({**NORMAL, "diastolic_bp_mmhg": 49}, LID).action == (
        "stop_and_call_physician"
    )
    assert evaluate_observation({**NORMAL, "diastolic_bp_mmhg": 50}, LID).action == "continue"


@pytest.mark.parametrize(
    ("measure", "before", "at_20", "below_20", "rule_id"),
    [
        # 120 mmHg + 20 % = 144 exactly; 75 + 20 % = 90; 70/min + 20 % = 84
        ("systolic_bp_mmhg", 120, 144, 143, "MON-BL-001"),
        ("diastolic_bp_mmhg", 75, 90, 89, "MON-BL-002"),
        ("heart_rate_bpm", 70, 84, 83, "MON-BL-003"),
    ],
)
def test_rise_over_own_baseline_fires_at_exactly_the_percentage(
    measure: str, before: int, at_20: int, below_20: int, rule_id: str
) -> None:
    infusion = {**KET, "baseline": {**BASELINE, measure: before}}
    fired = evaluate_observation({**NORMAL, measure: at_20}, infusion)
    assert rule_id in fired.rule_ids and fired.action == "reduce_rate"
    assert fired.baseline_used
    quiet = evaluate_observation({**NORMAL, measure: below_20}, infusion)
    assert rule_id not in quiet.rule_ids


def test_rise_of_40_percent_pauses() -> None:
    # 100 mmHg + 40 % = 140 exactly (below every absolute systolic rule)
    infusion = {**LID, "baseline": {**BASELINE, "systolic_bp_mmhg": 100}}
    assert evaluate_observation({**NORMAL, "systolic_bp_mmhg": 140}, infusion).action == "pause"
    assert evaluate_observation({**NORMAL, "systolic_bp_mmhg": 139}, infusion).action == (
        "reduce_rate"
    )


def test_baseline_rules_need_a_baseline() -> None:
    decision = evaluate_observation({**NORMAL, "systolic_bp_mmhg": 170}, KET)
    assert not any(r.startswith("MON-BL") for r in decision.rule_ids)
    assert decision.baseline_used is False


def test_clinic_sets_the_baseline_percentage(tmp_path: Path) -> None:
    data = load_policy("monitoring_thresholds.json")
    data.pop("_origin")
    for rule in data["baseline_rules"]:
        if rule["id"] == "MON-BL-001":
            rule["rise_percent"] = 30
    (tmp_path / "monitoring_thresholds.json").write_text(json.dumps(data))
    thresholds = load_thresholds(tmp_path)
    infusion = {**KET, "baseline": BASELINE}  # 120 mmHg: +30 % = 156
    assert (
        "MON-BL-001"
        in evaluate_observation({**NORMAL, "systolic_bp_mmhg": 156}, infusion, thresholds).rule_ids
    )
    assert (
        "MON-BL-001"
        not in evaluate_observation(
            {**NORMAL, "systolic_bp_mmhg": 155}, infusion, thresholds
        ).rule_ids
    )


@pytest.mark.parametrize("drug", [KET, LID])
def test_heart_rate_trigger_is_120_not_the_ed_exclusion_150(drug: dict[str, str]) -> None:
    assert evaluate_observation({**NORMAL, "heart_rate_bpm": 121}, drug).action == "pause"
    assert evaluate_observation({**NORMAL, "heart_rate_bpm": 120}, drug).action == "continue"


@pytest.mark.parametrize("drug", [KET, LID])
def test_spo2_triggers(drug: dict[str, str]) -> None:
    assert evaluate_observation({**NORMAL, "spo2_percent": 93}, drug).action == "continue"
    assert evaluate_observation({**NORMAL, "spo2_percent": 92}, drug).action == "pause"
    assert evaluate_observation({**NORMAL, "spo2_percent": 90}, drug).action == "pause"
    assert evaluate_observation({**NORMAL, "spo2_percent": 89}, drug).action == (
        "stop_and_call_physician"
    )


def test_dizziness_under_lidocaine_is_the_toxicity_prodrome() -> None:
    dizzy = evaluate_observation({**NORMAL, "symptoms": ["dizziness"]}, LID)
    light = evaluate_observation({**NORMAL, "symptoms": ["light_headedness"]}, LID)
    assert dizzy.action == light.action == "stop_and_call_physician"
    assert dizzy.rule_ids == light.rule_ids == ("MON-LAST-001",)
    assert dizzy.reasons[0].detail == "light-headedness or dizziness"


def test_dizziness_and_light_headedness_are_one_symptom_in_the_vocabulary() -> None:
    (entry,) = [s for s in THRESHOLDS.symptoms if "dizziness" in (s.id, *s.aliases)]
    assert entry.id == "light_headedness" and "dizziness" in entry.label.lower()
    assert "dizziness" not in SYMPTOMS  # offered once, under one code


@pytest.mark.parametrize("symptom", ["hallucinations", "confusion", "drowsiness"])
@pytest.mark.parametrize("drug", [KET, LID])
def test_hallucinations_confusion_drowsiness_are_never_continue(
    symptom: str, drug: dict[str, str]
) -> None:
    decision = evaluate_observation({**NORMAL, "symptoms": [symptom]}, drug)
    assert decision.action.severity >= Action.REDUCE_RATE.severity


def test_actions_decided_per_drug() -> None:
    hallucinating = {**NORMAL, "symptoms": ["hallucinations"]}
    assert evaluate_observation(hallucinating, KET).action == "reduce_rate"
    assert evaluate_observation(hallucinating, LID).action == "emergency"
    confused = {**NORMAL, "symptoms": ["confusion"]}
    assert evaluate_observation(confused, KET).action == "pause"
    assert evaluate_observation(confused, LID).action == "emergency"  # stop, and more
    drowsy = {**NORMAL, "symptoms": ["drowsiness"]}
    assert evaluate_observation(drowsy, LID).action == "stop_and_call_physician"
    assert evaluate_observation(drowsy, KET).action == "reduce_rate"


def test_every_symptom_is_decided_for_every_drug() -> None:
    for drug in ("ketamine", "lidocaine"):
        covered = {s for r in THRESHOLDS.symptom_rules if drug in r.drugs for s in r.symptoms}
        assert covered == set(SYMPTOMS), drug


def test_a_policy_leaving_a_symptom_undecided_is_rejected(tmp_path: Path) -> None:
    data = load_policy("monitoring_thresholds.json")
    data.pop("_origin")
    data["symptom_rules"] = [r for r in data["symptom_rules"] if r["id"] != "MON-KET-001"]
    (tmp_path / "monitoring_thresholds.json").write_text(json.dumps(data))
    with pytest.raises(ClinicalInputError) as exc:
        load_thresholds(tmp_path)
    assert "hallucinations" in exc.value.message and "ketamine" in exc.value.message


REQUIRED = ["systolic_bp_mmhg", "diastolic_bp_mmhg", "heart_rate_bpm",
            "respiratory_rate_per_min", "spo2_percent"]  # fmt: skip


@pytest.mark.parametrize("missing", REQUIRED)
def test_a_round_missing_a_vital_sign_is_incomplete(missing: str) -> None:
    obs = {k: v for k, v in NORMAL.items() if k != missing}
    decision = evaluate_observation(obs, KET)
    assert decision.action == "incomplete" and decision.not_recorded == (missing,)
    assert decision.complete is False
    assert evaluate_observation(NORMAL, KET).action == "continue"


def test_a_round_without_sedation_is_incomplete() -> None:
    obs = {k: v for k, v in NORMAL.items() if k not in ("rass", "moaas")}
    assert evaluate_observation(obs, LID).action == "incomplete"
    assert evaluate_observation({**obs, "moaas": 5}, LID).action == "continue"


def test_an_incomplete_round_keeps_a_more_severe_action() -> None:
    obs = {k: v for k, v in NORMAL.items() if k != "spo2_percent"} | {"symptoms": ["tinnitus"]}
    decision = evaluate_observation(obs, LID)
    assert decision.action == "stop_and_call_physician"
    assert decision.not_recorded == ("spo2_percent",) and not decision.complete


def test_recovery_round_uses_the_same_rules() -> None:
    infusion = {**KET, "phase": "recovery", "baseline": BASELINE}
    decision = evaluate_observation({**NORMAL, "cadss6": 12}, infusion)
    assert decision.phase == "recovery" and decision.action == "reduce_rate"
    assert evaluate_observation(NORMAL, infusion).action == "continue"
