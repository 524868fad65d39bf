"""Service rules: scoring stored, corrections, eligibility decisions, the checklist."""

from __future__ import annotations

import pytest

from painclinic.web.accounts.models import Role
from painclinic.web.assessments import services
from painclinic.web.assessments.models import Assessment, ChecklistItem, EligibilityDecision
from tests.web.assessments.conftest import budapest_met, clean_entry


def decide(drug="ketamine", decision="accept", final="", reason="", seen=None, entry=None):
    return services.DrugDecision(drug, decision, final, reason, seen or "")


def engine_status(patient, entry, drug="ketamine"):
    facts, _ = services.build_facts(patient, entry)
    return services.evaluate(facts).to_dict()[drug]["status"]


def test_latest_eligibility_decision_is_none_then_the_newest(patient, request_as):
    assert services.latest_eligibility_decision(patient, "ketamine") is None
    services.do_record_assessment(request_as(), patient, "budapest", budapest_met())
    entry = clean_entry()
    status = engine_status(patient, entry)
    first = services.do_record_eligibility(request_as(), patient, entry, [decide(seen=status)])[0]
    second = services.do_record_eligibility(
        request_as(),
        patient,
        entry,
        [decide(decision="override", final="not_eligible", reason="family history", seen=status)],
    )[0]
    latest = services.latest_eligibility_decision(patient, "ketamine")
    assert latest == second and latest != first
    assert latest.final_status == "not_eligible"
    assert services.latest_eligibility_decision(patient, "lidocaine") is None
    assert EligibilityDecision.objects.count() == 2
    assert Assessment.objects.count() == 1
    assert ChecklistItem.objects.count() == 0


@pytest.mark.parametrize("role", [Role.PHYSICIAN])
def test_budapest_assessment_is_scored_and_stored(patient, request_as, role):
    a = services.do_record_assessment(request_as(role), patient, "budapest", budapest_met())
    assert a.met is True and a.band == "crps_clinical_criteria_met"
    assert a.answers["variant"] == "clinical"
    assert a.result["reasons"]
