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
    SYMPTOMS,
    Action,
    evaluate_observation,
    load_thresholds,
)
from painclinic.clinical.policy import load_policy

THRESHOLDS = load_thresholds()
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
    assert evaluate_observation({**NORMAL, "heart_rate_bpm": 151}, ket).action == "pause"
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


def test_last_prodrome_is_lidocaine_only() -> None:
    decision = evaluate_observation({**NORMAL, "symptoms": ["tinnitus"]}, {"drug": "ketamine"})
    assert decision.action == "continue"


def test_dissociation_rule_is_ketamine_only() -> None:
    assert evaluate_observation({**NORMAL, "cadss6": 20}, {"drug": "ketamine"}).action == (
        "reduce_rate"
    )
    assert evaluate_observation({**NORMAL, "cadss6": 20}, {"drug": "lidocaine"}).action == (
        "continue"
    )


def test_most_severe_action_wins_and_all_reasons_kept() -> None:
    obs = {**NORMAL, "systolic_bp_mmhg": 190, "rass": -4}
    decision = evaluate_observation(obs, {"drug": "ketamine"})
    assert decision.action == "emergency"
    assert {"MON-VS-001", "MON-SED-001", "MON-SED-002", "MON-SED-003"} <= set(decision.rule_ids)
    assert decision.reasons[0].action == "emergency"


def test_not_recorded_lists_missing_vitals() -> None:
    decision = evaluate_observation({"symptoms": []}, {"drug": "ketamine"})
    assert "spo2_percent" in decision.not_recorded
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
