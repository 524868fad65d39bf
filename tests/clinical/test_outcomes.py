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
        base.update(completed=True, total_dose_mg=350)
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
    histories: list[dict[str, Any]] = [
        {"trials": []},
        {"trials": [trial("ketamine", RELAPSE)]},
        {"trials": [trial("ketamine", NO_RESPONSE), trial("lidocaine", NO_RESPONSE)]},
    ]
    for history in histories:
        assert recommend(history).sources


# --- the latest trial decides first ---------------------------------------------------------


def test_current_ketamine_responder_is_not_stopped_by_an_older_failed_lidocaine_trial() -> None:
    older = [trial("ketamine", NO_RESPONSE), trial("lidocaine", NO_RESPONSE)]
    ongoing = recommend({"trials": [*older, trial("ketamine", RESPONSE)]})
    assert ongoing.recommendation == "continue_follow_up" and ongoing.rule_id == "OUT-REC-003"
    relapsed = recommend({"trials": [*older, trial("ketamine", RELAPSE)]})
    assert relapsed.recommendation == "ketamine_booster"
    # the same older failures do decide once the latest ketamine trial fails too
    failed = recommend({"trials": [*older, trial("ketamine", NO_RESPONSE)]})
    assert failed.recommendation == "stop" and failed.rule_id == "OUT-REC-007"


def test_latest_trial_without_follow_up_waits_even_after_older_failures() -> None:
    history = {"trials": [trial("ketamine", NO_RESPONSE), trial("lidocaine", NO_RESPONSE),
                          trial("ketamine", [])]}  # fmt: skip
    assert recommend(history).recommendation == "await_follow_up"


def test_lidocaine_responder_after_failed_ketamine_continues() -> None:
    history = {"trials": [trial("ketamine", NO_RESPONSE), trial("lidocaine", RESPONSE)]}
    assert recommend(history).recommendation == "continue_follow_up"


# --- a missing PGIC is undecided, not a failure ---------------------------------------------


def test_missing_pgic_with_nrs_met_is_undecided_not_a_failure() -> None:
    result = recommend({"trials": [trial("ketamine", [{"day": 7, "nrs": 4, "pgic": None}])]})
    assert result.recommendation == "complete_assessment" and result.rule_id == "OUT-REC-011"
    assert result.latest_status == "undecided"
    assert result.adequate_ketamine_non_responses == 0


def test_missing_pgic_with_nrs_not_met_is_a_decided_non_response() -> None:
    # 8 -> 7 fails the NRS criterion whatever the PGIC would have been
    result = recommend({"trials": [trial("ketamine", [{"day": 7, "nrs": 7, "pgic": None}])]})
    assert result.recommendation == "lidocaine_trial"
    assert result.adequate_ketamine_non_responses == 1


def test_older_undecided_trial_does_not_count_as_failure() -> None:
    undecided = trial("ketamine", [{"day": 7, "nrs": 4}])
    result = recommend({"trials": [undecided, trial("ketamine", NO_RESPONSE)]})
    assert result.adequate_ketamine_non_responses == 1


# --- a trial stopped for intolerance counts as tried ----------------------------------------


def test_ketamine_trial_stopped_for_intolerance_counts_as_tried() -> None:
    stopped = trial("ketamine", [], total_dose_mg=30, duration_h=0.75, stopped_for="intolerance")
    result = recommend({"trials": [stopped]})
    assert result.recommendation == "lidocaine_trial"
    assert result.adequate_ketamine_non_responses == 1


def test_trial_stopped_for_another_reason_does_not_count() -> None:
    stopped = trial("ketamine", [], total_dose_mg=30, duration_h=0.75, stopped_for="other")
    assert recommend({"trials": [stopped]}).recommendation == "await_follow_up"
    stopped_scored = dict(stopped, followups=NO_RESPONSE)
    result = recommend({"trials": [stopped_scored]})
    assert result.recommendation == "repeat_ketamine_trial"
    assert result.adequate_ketamine_non_responses == 0


def test_lidocaine_stopped_for_intolerance_after_ketamine_failure_stops() -> None:
    stopped = trial("lidocaine", [], completed=False, stopped_for="intolerance")
    result = recommend({"trials": [trial("ketamine", NO_RESPONSE), stopped]})
    assert result.recommendation == "stop"


def test_stopped_for_must_be_known() -> None:
    with pytest.raises(ClinicalInputError) as exc:
        recommend({"trials": [trial("ketamine", [], stopped_for="boredom")]})
    assert exc.value.field == "trials[0].stopped_for"


# --- boosters: minimum relief, minimum interval, cumulative-dose cap -------------------------


def relapse(first_day: float, lost_day: float) -> list[dict[str, Any]]:
    return [{"day": first_day, "nrs": 4, "pgic": 2}, {"day": lost_day, "nrs": 8, "pgic": 4}]


def test_booster_needs_the_minimum_relief_duration() -> None:
    # policy default 21 days: day 7 -> 28 is 21 days (booster), day 7 -> 27 is 20 (review)
    assert load_responder_policy().booster_min_relief_days == 21
    ok = recommend({"trials": [trial("ketamine", relapse(7, 28))]})
    assert ok.recommendation == "ketamine_booster" and ok.rule_id == "OUT-REC-004"
    short = recommend({"trials": [trial("ketamine", relapse(7, 27))]})
    assert short.recommendation == "physician_review" and short.rule_id == "OUT-REC-009"


def test_booster_respects_the_minimum_interval() -> None:
    # policy default 28 days from the latest infusion
    early = recommend({"trials": [trial("ketamine", relapse(1, 22))]})
    assert early.recommendation == "ketamine_booster" and early.not_before_day == 28
    late = recommend({"trials": [trial("ketamine", relapse(7, 60))]})
    assert late.not_before_day == 60


def test_booster_respects_the_course_cumulative_cap() -> None:
    # ketamine course cap 2,000 mg (clinic policy): the booster is taken as the latest dose
    assert load_responder_policy().ketamine_course_max_cumulative_mg == 2000
    first = trial("ketamine", relapse(7, 60), total_dose_mg=1000)

    def booster(mg: float) -> dict[str, Any]:
        return trial("ketamine", relapse(3, 40), total_dose_mg=mg, kind="booster")

    at_cap = recommend({"trials": [first, booster(500)]})  # 1,500 given, 2,000 with booster
    assert at_cap.recommendation == "ketamine_booster" and at_cap.cumulative_dose_mg == 1500
    over = recommend({"trials": [first, booster(501)]})  # 1,501 given, 2,002 with booster
    assert over.recommendation == "physician_review" and over.rule_id == "OUT-REC-010"
    assert "liver" in over.reasons[0]


def test_booster_with_an_unrecorded_dose_goes_to_review() -> None:
    first = trial("lidocaine", NO_RESPONSE)
    first.pop("total_dose_mg")
    result = recommend({"trials": [first, trial("lidocaine", RELAPSE)]})
    assert result.recommendation == "physician_review" and result.rule_id == "OUT-REC-010"


# --- absolute as well as percentage change --------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "followup", "responder", "strong"),
    [
        (3, 2, False, False),  # 33% but 1 point: below the 2-point equivalent
        (6, 4, True, False),  # 33% and 2 points
        (7, 5, False, False),  # 2 points but 28.6%
        (8, 4, True, True),  # 50% and 4 points
        (6, 3, True, False),  # 50% but 3 points: not strong
    ],
)
def test_responder_needs_points_as_well_as_percent(
    baseline: int, followup: int, responder: bool, strong: bool
) -> None:
    result = assess_response(baseline, followup, 1)
    assert result.responder is responder and result.strong_responder is strong
    assert result.change.points_reduction == baseline - followup


def test_points_criterion_can_be_switched_off(tmp_path: Path) -> None:
    data = load_policy("responder_policy.json")
    data.pop("_origin")
    data["min_nrs_reduction_points"]["value"] = 0
    (tmp_path / "responder_policy.json").write_text(json.dumps(data))
    assert assess_response(3, 2, 1, load_responder_policy(tmp_path)).responder is True


def test_policy_values_without_a_published_source_are_marked_clinic_policy() -> None:
    data = load_policy("responder_policy.json")
    for key in (
        "require_pgic",
        "booster_min_relief_days",
        "booster_min_interval_days",
        "ketamine_course_max_cumulative_mg",
        "lidocaine_course_max_cumulative_mg",
    ):
        assert data[key]["sources"] == ["clinic_policy"], key
    for key in ("min_nrs_reduction_points", "strong_nrs_reduction_points"):
        assert "clinic_policy" in data[key]["sources"] and "farrar2001" in data[key]["sources"]
