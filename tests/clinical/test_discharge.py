"""Home discharge after an outpatient infusion: each criterion blocks at its boundary.

Criteria (issue 11 item 5; clinical reference section 9 "Monitoring and discharge"): the
modified PADSS 9 or more of 10 (Chung 1995), dissociation resolved, an escort, the modified
Aldrete beside it, a minimum recovery time (RCH lidocaine about 30 min), and a complete
recovery round within the monitoring rules.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from painclinic.clinical.monitoring import (
    DischargeFacts,
    RecoveryRound,
    assess_discharge,
    evaluate_observation,
    load_thresholds,
    padss_vital_signs_points,
)

THRESHOLDS = load_thresholds()
BASELINE = {"systolic_bp_mmhg": 120, "diastolic_bp_mmhg": 75, "heart_rate_bpm": 70}
CALM: dict[str, Any] = {
    "systolic_bp_mmhg": 122,
    "diastolic_bp_mmhg": 76,
    "heart_rate_bpm": 72,
    "respiratory_rate_per_min": 14,
    "spo2_percent": 98,
    "rass": 0,
    "cadss6": 0,
    "symptoms": [],
}


def round_after(drug: str, minutes: float, **changes: Any) -> RecoveryRound:
    obs = {**CALM, **changes}
    obs = {k: v for k, v in obs.items() if v is not None}
    decision = evaluate_observation(obs, {"drug": drug, "phase": "recovery", "baseline": BASELINE})
    return RecoveryRound(minutes, decision, obs.get("cadss6"))


def facts(drug: str = "ketamine", **changes: Any) -> DischargeFacts:
    base = DischargeFacts(
        drug=drug,
        minutes_since_stop=30,
        last_round=round_after(drug, 30),
        padss_score=9,
        padss_min_score=9,
        aldrete_score=9,
        aldrete_min_score=9,
        escort_present=True,
    )
    return replace(base, **changes)


def unmet(f: DischargeFacts) -> set[str]:
    return {c.key for c in assess_discharge(f, THRESHOLDS).unmet}


@pytest.mark.parametrize("drug", ["ketamine", "lidocaine"])
def test_all_criteria_met_is_ready(drug: str) -> None:
    decision = assess_discharge(facts(drug), THRESHOLDS)
    assert decision.ready and decision.unmet == ()


def test_padss_8_blocks_9_does_not() -> None:
    assert unmet(facts(padss_score=8)) == {"padss"}
    assert unmet(facts(padss_score=9)) == set()
    assert unmet(facts(padss_score=None)) == {"padss"}


def test_aldrete_below_its_score_blocks() -> None:
    assert unmet(facts(aldrete_score=8)) == {"aldrete"}


def test_dissociation_unresolved_blocks_ketamine_discharge() -> None:
    assert unmet(facts(last_round=round_after("ketamine", 30, cadss6=1))) == {"dissociation"}
    assert unmet(facts(last_round=round_after("ketamine", 30, cadss6=0))) == set()
    # not recorded is not resolved
    assert unmet(facts(last_round=round_after("ketamine", 30, cadss6=None))) == {"dissociation"}


def test_dissociation_is_not_a_lidocaine_criterion() -> None:
    decision = assess_discharge(facts("lidocaine"), THRESHOLDS)
    assert "dissociation" not in {c.key for c in decision.criteria}


def test_no_escort_blocks() -> None:
    assert unmet(facts(escort_present=False)) == {"escort"}


@pytest.mark.parametrize("drug", ["ketamine", "lidocaine"])
def test_minimum_recovery_time_30_min(drug: str) -> None:
    assert unmet(facts(drug, minutes_since_stop=29.9)) == {"recovery_time"}
    assert unmet(facts(drug, minutes_since_stop=30)) == set()


def test_a_recovery_round_is_required_complete_and_within_the_rules() -> None:
    assert unmet(facts(last_round=None)) >= {"recovery_observation", "dissociation"}
    missing_bp = round_after("ketamine", 30, diastolic_bp_mmhg=None)
    assert unmet(facts(last_round=missing_bp)) == {"recovery_complete"}
    hallucinating = round_after("ketamine", 30, symptoms=["hallucinations"])
    assert unmet(facts(last_round=hallucinating)) == {"recovery_within_rules"}


def test_open_alert_blocks() -> None:
    assert unmet(facts(open_alerts=1)) == {"alerts"}


def test_what_is_missing_is_said_in_plain_words() -> None:
    decision = assess_discharge(
        facts(escort_present=False, last_round=round_after("ketamine", 30, cadss6=3)), THRESHOLDS
    )
    text = " ".join(c.message for c in decision.unmet)
    assert "escort" in text and "Dissociation resolved" in text and "(now 3)" in text
    assert "MON-" not in text and "_" not in text


@pytest.mark.parametrize(
    ("systolic", "heart_rate", "points"),
    [
        (144, 70, 2),  # exactly 20 % above 120 mmHg
        (145, 70, 1),
        (120, 56, 2),  # exactly 20 % below 70/min
        (168, 70, 1),  # exactly 40 %
        (169, 70, 0),
        (120, 41, 0),
    ],
)
def test_padss_vital_signs_item_from_the_baseline(
    systolic: int, heart_rate: int, points: int
) -> None:
    now = {"systolic_bp_mmhg": systolic, "heart_rate_bpm": heart_rate}
    assert padss_vital_signs_points(BASELINE, now) == points


def test_padss_vital_signs_item_needs_both_values() -> None:
    assert padss_vital_signs_points(BASELINE, {"systolic_bp_mmhg": 120}) is None
