"""IMMPACT change categories, responder policy, durability and recommendations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from painclinic.clinical import ClinicalInputError
from painclinic.clinical.outcomes import (
    assess_durability,
    assess_response,
    classify_change,
    load_responder_policy,
    recommend,
)
from painclinic.clinical.policy import load_policy


@pytest.mark.parametrize(
    ("baseline", "followup", "category"),
    [
        (10, 10, "no_important_change"),
        (10, 9, "minimal"),  # 10%
        (10, 8, "minimal"),  # 20%
        (10, 7, "moderate"),  # 30%
        (10, 6, "moderate"),  # 40%
        (10, 5, "substantial"),  # 50%
        (10, 0, "substantial"),
        (8, 6, "minimal"),  # 25%: between IMMPACT minimal and moderate
        (5, 6, "worse"),
        (0, 3, "not_applicable"),
    ],
)
def test_immpact_categories(baseline: int, followup: int, category: str) -> None:
    assert classify_change(baseline, followup).category == category


def test_just_below_thresholds() -> None:
    # 7 -> 5 is 28.6%: minimal, not moderate; 9 -> 5 is 44.4%: moderate, not substantial
    assert classify_change(7, 5).category == "minimal"
    assert classify_change(9, 5).category == "moderate"
    assert classify_change(10, 9).category == "minimal"  # exactly 10%
    assert classify_change(10, 10).percent_reduction == 0


@given(st.integers(1, 10), st.integers(0, 10), st.integers(0, 10))
def test_lower_followup_never_gives_lower_category(base: int, a: int, b: int) -> None:
    order = ["worse", "no_important_change", "minimal", "moderate", "substantial"]
    lo, hi = sorted((a, b))
    assert order.index(classify_change(base, lo).category) >= order.index(
        classify_change(base, hi).category
    )


@pytest.mark.parametrize(
    ("followup", "pgic", "responder", "strong"),
    [
        (7, 2, True, False),  # 30%, much improved
        (7, 3, False, False),  # 30%, only minimally improved
        (8, 1, False, False),  # 20%
        (5, 1, True, True),  # 50%
        (6, 2, True, False),  # 40%
    ],
)
def test_default_responder_policy(followup: int, pgic: int, responder: bool, strong: bool) -> None:
    result = assess_response(10, followup, pgic)
    assert result.responder is responder
    assert result.strong_responder is strong


def test_pgic_missing_leaves_responder_undecided_when_nrs_meets() -> None:
    assert assess_response(10, 5, None).responder is None
    assert assess_response(10, 9, None).responder is False


def test_baseline_zero_undecided() -> None:
    assert assess_response(0, 0, 1).responder is None


def test_bad_scores_named() -> None:
    with pytest.raises(ClinicalInputError) as exc:
        assess_response(10, 11, 1)
    assert exc.value.field == "followup_nrs"
    with pytest.raises(ClinicalInputError) as exc:
        assess_response(10, 5, 0)
    assert exc.value.field == "pgic"


def test_clinic_policy_override(tmp_path: Path) -> None:
    data = load_policy("responder_policy.json")
    data.pop("_origin")
    data["min_nrs_reduction_percent"]["value"] = 50
    data["require_pgic"]["value"] = False
    (tmp_path / "responder_policy.json").write_text(json.dumps(data))
    policy = load_responder_policy(tmp_path)
    assert assess_response(10, 6, None, policy).responder is False
    assert assess_response(10, 5, None, policy).responder is True


# --- durability -----------------------------------------------------------------------------


def test_relief_lost_day() -> None:
    followups = [
        {"day": 7, "nrs": 4, "pgic": 2},
        {"day": 28, "nrs": 5, "pgic": 2},
        {"day": 56, "nrs": 8, "pgic": 4},
        {"day": 84, "nrs": 4, "pgic": 2},
    ]
    result = assess_durability(8, followups)
    assert result.responded and result.first_response_day == 7
    assert result.relief_lost_day == 56 and result.relief_duration_days == 49
    assert result.ongoing is False


def test_relief_ongoing() -> None:
    result = assess_durability(
        8, [{"day": 7, "nrs": 4, "pgic": 1}, {"day": 84, "nrs": 5, "pgic": 2}]
    )
    assert result.ongoing and result.relief_lost_day is None


def test_never_responded() -> None:
    result = assess_durability(8, [{"day": 7, "nrs": 7, "pgic": 4}])
    assert not result.responded and not result.ongoing


def test_followups_must_be_ordered() -> None:
    with pytest.raises(ClinicalInputError) as exc:
        assess_durability(8, [{"day": 7, "nrs": 4}, {"day": 7, "nrs": 4}])
    assert exc.value.field == "followups[1].day"


# --- recommendations ------------------------------------------------------------------------


def trial(drug: str, followups: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"drug": drug, "baseline_nrs": 8, "followups": followups}
    if drug == "ketamine":
        base.update(total_dose_mg=100, duration_h=4)
    else:
        base.update(completed=True)
    base.update(kw)
    return base


NO_RESPONSE = [{"day": 7, "nrs": 7, "pgic": 4}]
RESPONSE = [{"day": 7, "nrs": 4, "pgic": 2}]
RELAPSE = [{"day": 7, "nrs": 4, "pgic": 2}, {"day": 60, "nrs": 8, "pgic": 4}]


def test_no_trials_start_ketamine() -> None:
    assert recommend({"trials": []}).recommendation == "start_ketamine_trial"


def test_booster_after_relapse_in_responder() -> None:
    result = recommend({"trials": [trial("ketamine", RELAPSE)]})
    assert result.recommendation == "ketamine_booster" and result.rule_id == "OUT-REC-004"


def test_no_booster_while_relief_ongoing() -> None:
    assert recommend({"trials": [trial("ketamine", RESPONSE)]}).recommendation == (
        "continue_follow_up"
    )


def test_lidocaine_after_policy_number_of_adequate_ketamine_failures() -> None:
    result = recommend({"trials": [trial("ketamine", NO_RESPONSE)]})
    assert result.recommendation == "lidocaine_trial"
    assert result.adequate_ketamine_non_responses == 1


def test_inadequate_ketamine_trial_does_not_count() -> None:
    history = {"trials": [trial("ketamine", NO_RESPONSE, total_dose_mg=80, duration_h=2)]}
    result = recommend(history)
    assert result.recommendation == "repeat_ketamine_trial"
    assert result.adequate_ketamine_non_responses == 0


def test_policy_of_two_ketamine_trials(tmp_path: Path) -> None:
    data = load_policy("responder_policy.json")
    data.pop("_origin")
    data["adequate_ketamine_trials_before_lidocaine"]["value"] = 2
    (tmp_path / "responder_policy.json").write_text(json.dumps(data))
    policy = load_responder_policy(tmp_path)
    one = {"trials": [trial("ketamine", NO_RESPONSE)]}
    two = {"trials": [trial("ketamine", NO_RESPONSE), trial("ketamine", NO_RESPONSE)]}
    assert recommend(one, policy).recommendation == "repeat_ketamine_trial"
    assert recommend(two, policy).recommendation == "lidocaine_trial"


def test_stop_after_lidocaine_fails() -> None:
    history = {"trials": [trial("ketamine", NO_RESPONSE), trial("lidocaine", NO_RESPONSE)]}
    assert recommend(history).recommendation == "stop"


def test_lidocaine_booster_after_relapse() -> None:
    history = {"trials": [trial("ketamine", NO_RESPONSE), trial("lidocaine", RELAPSE)]}
    assert recommend(history).recommendation == "lidocaine_booster"


def test_incomplete_lidocaine_trial_repeated() -> None:
    history = {
        "trials": [trial("ketamine", NO_RESPONSE), trial("lidocaine", NO_RESPONSE, completed=False)]
    }
    assert recommend(history).recommendation == "repeat_lidocaine_trial"


def test_await_follow_up() -> None:
    assert recommend({"trials": [trial("ketamine", [])]}).recommendation == "await_follow_up"


def test_bad_history_named() -> None:
    with pytest.raises(ClinicalInputError) as exc:
        recommend({"trials": [trial("propofol", [])]})
    assert exc.value.field == "trials[0].drug"


def test_every_recommendation_cites_a_source() -> None:
    for history in (
        {"trials": []},
        {"trials": [trial("ketamine", RELAPSE)]},
        {"trials": [trial("ketamine", NO_RESPONSE), trial("lidocaine", NO_RESPONSE)]},
    ):
        assert recommend(history).sources
