"""Safety escalation rules: each fires at its boundary and not one step below, cited."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from painclinic.clinical.errors import ClinicalInputError
from painclinic.clinical.escalation import (
    FollowUpAnswers,
    Urgency,
    evaluate,
    load_escalation_policy,
    parse_escalation_policy,
)
from painclinic.clinical.policy import load_policy
from painclinic.clinical.sources import SOURCES, Evidence

DOCS = Path(__file__).resolve().parents[2] / "docs" / "clinical-rules.md"


def phq9(item9: int = 0, total: int | None = None) -> tuple[int, ...]:
    """Nine answers with item 9 = ``item9`` and the given total (spread over items 1-8)."""
    rest = (total if total is not None else item9) - item9
    assert 0 <= rest <= 24
    items = [0] * 8
    for i in range(rest):
        items[i % 8] += 1
    return (*items, item9)


def fired(answers: FollowUpAnswers) -> list[str]:
    return [e.rule_id for e in evaluate(answers).escalations]


# --- PHQ-9 item 9 ---------------------------------------------------------------------------


def test_item9_above_zero_is_urgent_and_shows_crisis_resources_whatever_the_total():
    result = evaluate(FollowUpAnswers(phq9_items=phq9(item9=1, total=1)))
    assert [e.rule_id for e in result.escalations] == ["ESC-PHQ-001"]
    assert result.crisis and result.urgency is Urgency.URGENT
    assert "hurting yourself" in result.crisis_reasons[0]
    assert "ESC" not in result.crisis_reasons[0]  # no internal code for the patient


def test_item9_zero_does_not_escalate_even_with_a_moderately_severe_total():
    result = evaluate(FollowUpAnswers(phq9_items=phq9(item9=0, total=19)))
    assert result.escalations == () and not result.crisis and result.urgency is None


# --- PHQ-9 total ----------------------------------------------------------------------------


def test_phq9_total_20_is_urgent_with_crisis_resources():
    result = evaluate(FollowUpAnswers(phq9_items=phq9(item9=0, total=20)))
    assert [e.rule_id for e in result.escalations] == ["ESC-PHQ-002"]
    assert result.crisis and result.escalations[0].values["phq9_total"] == 20


def test_phq9_total_19_is_not_escalated():
    assert fired(FollowUpAnswers(phq9_items=phq9(item9=0, total=19))) == []


def test_both_phq9_rules_fire_together():
    assert fired(FollowUpAnswers(phq9_items=phq9(item9=3, total=27))) == [
        "ESC-PHQ-001",
        "ESC-PHQ-002",
    ]


# --- pain rise (clinic policy, 3 points) ----------------------------------------------------


def test_pain_rise_of_3_from_baseline_is_soon_not_crisis():
    result = evaluate(FollowUpAnswers(nrs_score=8, baseline_nrs_score=5))
    assert [e.rule_id for e in result.escalations] == ["ESC-NRS-001"]
    assert result.urgency is Urgency.SOON and not result.crisis
    assert result.escalations[0].values["rise_points"] == 3
    assert result.notices and "pain" in result.notices[0].lower()


def test_pain_rise_of_2_from_baseline_is_not_escalated():
    assert fired(FollowUpAnswers(nrs_score=7, baseline_nrs_score=5)) == []


def test_pain_rise_of_3_from_the_previous_time_point_is_soon():
    assert fired(FollowUpAnswers(nrs_score=6, baseline_nrs_score=6, previous_nrs_score=3)) == [
        "ESC-NRS-002"
    ]


def test_pain_rise_of_2_from_the_previous_time_point_is_not_escalated():
    assert fired(FollowUpAnswers(nrs_score=5, baseline_nrs_score=6, previous_nrs_score=3)) == []


def test_a_fall_in_pain_never_escalates():
    assert fired(FollowUpAnswers(nrs_score=1, baseline_nrs_score=9, previous_nrs_score=8)) == []


def test_the_pain_threshold_is_the_clinics_to_set():
    data = copy.deepcopy(load_policy("escalation_policy.json"))
    for rule in data["rules"]:
        if rule["kind"].startswith("nrs_rise"):
            rule["threshold"] = 2
    policy = parse_escalation_policy(data)
    answers = FollowUpAnswers(nrs_score=7, baseline_nrs_score=5)
    assert [e.rule_id for e in evaluate(answers, policy).escalations] == ["ESC-NRS-001"]


# --- adverse effect -------------------------------------------------------------------------


def test_a_new_adverse_effect_is_soon():
    result = evaluate(FollowUpAnswers(new_adverse_effects=("vivid dreams",)))
    assert [e.rule_id for e in result.escalations] == ["ESC-ADV-001"]
    assert result.urgency is Urgency.SOON


def test_no_adverse_effect_no_escalation():
    assert fired(FollowUpAnswers(new_adverse_effects=())) == []


# --- order, input checks, policy ------------------------------------------------------------


def test_urgent_comes_before_soon():
    result = evaluate(FollowUpAnswers(phq9_items=phq9(item9=1), nrs_score=9, baseline_nrs_score=2))
    assert [e.urgency for e in result.escalations] == [Urgency.URGENT, Urgency.SOON]
    assert result.urgency is Urgency.URGENT


@pytest.mark.parametrize(
    ("answers", "where"),
    [
        (FollowUpAnswers(phq9_items=(0,) * 8), "phq9_items"),
        (FollowUpAnswers(phq9_items=(0,) * 8 + (4,)), "phq9_items[8]"),
        (FollowUpAnswers(nrs_score=11), "nrs_score"),
    ],
)
def test_out_of_range_answers_are_refused_naming_them(answers, where):
    with pytest.raises(ClinicalInputError) as error:
        evaluate(answers)
    assert error.value.field == where


def test_a_crisis_rule_must_be_urgent():
    data = copy.deepcopy(load_policy("escalation_policy.json"))
    data["rules"][0]["urgency"] = "soon"
    with pytest.raises(ClinicalInputError) as error:
        parse_escalation_policy(data, "p")
    assert error.value.field == "p.rules[0].urgency"


def test_every_rule_and_resource_cites_known_sources_with_its_evidence():
    policy = load_escalation_policy()
    assert {r.id for r in policy.rules} == {
        "ESC-PHQ-001",
        "ESC-PHQ-002",
        "ESC-NRS-001",
        "ESC-NRS-002",
        "ESC-ADV-001",
    }
    for rule in policy.rules:
        assert rule.sources and all(s in SOURCES for s in rule.sources)
        # A rule without a published source is labelled clinic policy.
        if rule.sources == ("clinic_policy",):
            assert rule.evidence is Evidence.POLICY
    phq = [r for r in policy.rules if r.id.startswith("ESC-PHQ")]
    assert all(r.sources == ("kroenke2001",) and r.evidence is Evidence.CONFIRMED for r in phq)
    assert [(r.display, r.dial) for r in policy.crisis_resources] == [
        ("9-8-8", "988"),
        ("911", "911"),
    ]
    assert policy.crisis_resources[0].text  # 9-8-8 takes texts too


def test_docs_list_every_escalation_rule():
    text = DOCS.read_text(encoding="utf-8")
    assert [r.id for r in load_escalation_policy().rules if r.id not in text] == []
    assert "`canada988`" in text
