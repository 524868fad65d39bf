"""Missing information from the eligibility decision blocks the first infusion of that drug."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.assessments import services as assessments
from painclinic.web.assessments.models import ChecklistItem
from painclinic.web.audit.models import AuditEvent
from painclinic.web.infusions import services
from painclinic.web.infusions.inputs import StartInput, StopInput
from painclinic.web.infusions.models import (
    PreInfusionChecklist,
    RateSegment,
    SessionEvent,
    SessionStatus,
)
from painclinic.web.infusions.rules import Refused
from tests.web.assessments.conftest import budapest_met, clean_entry
from tests.web.infusions.conftest import (
    checklist_data,
    checklist_input,
    fresh,
    make_booking,
    make_request,
    run_to,
)

pytestmark = pytest.mark.django_db


def missing_ecg(patient, physician, drug: str = "ketamine") -> ChecklistItem:
    """A real eligibility decision with no ECG on file: the engine names it missing (for
    ketamine only with cardiac risk factors; for lidocaine always)."""
    request = make_request(physician)
    assessments.do_record_assessment(request, patient, "budapest", budapest_met())
    risk = ["cardiac_risk_factors"] if drug == "ketamine" else []
    entry = clean_entry(ecg=None, comorbidities=risk)
    facts, _ = assessments.build_facts(patient, entry)
    seen = assessments.evaluate(facts).to_dict()[drug]["status"]
    assessments.do_record_eligibility(
        request, patient, entry, [assessments.DrugDecision(drug, "accept", seen, "", seen)]
    )
    return ChecklistItem.objects.get(patient=patient, drug=drug, resolved_at__isnull=True)


def resolve(item: ChecklistItem, user, note: str = "ECG 2026-11-20: sinus rhythm, normal") -> None:
    assessments.do_resolve_checklist_item(make_request(user), item, note, item.version)


def test_an_open_item_refuses_the_first_checklist_and_saves_nothing(session, physician, nurse):
    item = missing_ecg(session.patient, physician)
    s = fresh(session)
    audits = AuditEvent.objects.count()
    with pytest.raises(Refused) as refused:
        services.do_complete_checklist(make_request(nurse), s.pk, s.version, checklist_input())
    assert item.rule_id in refused.value.message and item.text in refused.value.message
    assert "first infusion" in refused.value.message
    assert not PreInfusionChecklist.objects.exists()
    assert fresh(s).version == s.version and fresh(s).status == SessionStatus.SCHEDULED
    # Only the refusal itself is on record, audited by the service after its rollback.
    assert AuditEvent.objects.count() == audits + 1
    refusal = AuditEvent.objects.order_by("-sequence").first()
    assert refusal.outcome == "denied" and refusal.detail["service"] == "do_complete_checklist"
    assert refusal.patient_id == s.patient_id and item.rule_id in refusal.detail["refused"]


def test_once_resolved_with_a_note_the_checklist_passes(session, physician, nurse):
    item = missing_ecg(session.patient, physician)
    resolve(item, physician)
    s = fresh(session)
    services.do_complete_checklist(make_request(nurse), s.pk, s.version, checklist_input())
    assert fresh(s).status == SessionStatus.CHECKLIST_DONE


def test_an_item_for_the_other_drug_does_not_block(session, physician, nurse):
    item = missing_ecg(session.patient, physician, drug="lidocaine")
    assert item.rule_id.startswith("LID-")
    s = fresh(session)
    services.do_complete_checklist(make_request(nurse), s.pk, s.version, checklist_input())
    assert fresh(s).status == SessionStatus.CHECKLIST_DONE


def test_an_item_appearing_after_the_checklist_refuses_the_start(session, physician, nurse, nurse2):
    s = run_to(session, "prepared", nurse, nurse2)
    item = missing_ecg(s.patient, physician)
    with pytest.raises(Refused, match=item.rule_id):
        services.do_start(make_request(nurse), s.pk, s.version, StartInput(timezone.now()))
    assert not RateSegment.objects.exists()
    assert fresh(s).status == SessionStatus.PREPARED
    assert not SessionEvent.objects.filter(session=s, kind="start").exists()


def test_a_later_infusion_of_the_same_drug_is_not_blocked_and_shows_a_warning(
    session, plan, users, physician, nurse, nurse2, client_for
):
    first = run_to(session, "running", nurse, nurse2)  # the first ketamine infusion started
    started = first.segments.get().started_at
    services.do_stop(
        make_request(nurse), first.pk, first.version, StopInput(started + dt.timedelta(hours=1))
    )
    item = missing_ecg(session.patient, physician)
    second = services.do_open_session(
        make_request(nurse), make_booking(plan, users[Role.FRONT_DESK], number=2).pk
    )
    body = client_for(Role.NURSE).get(f"/infusions/{second.pk}/").content.decode()
    assert "Missing information still open" in body and item.rule_id in body
    assert "blocked" not in body
    services.do_complete_checklist(
        make_request(nurse), second.pk, second.version, checklist_input()
    )
    assert fresh(second).status == SessionStatus.CHECKLIST_DONE


def test_the_chart_and_checklist_page_show_the_block_with_links_to_resolve(
    session, physician, client_for
):
    item = missing_ecg(session.patient, physician)
    link = reverse(
        "assessments:resolve_item", kwargs={"patient_id": item.patient_id, "item_id": item.pk}
    )
    nurse_client = client_for(Role.NURSE)
    chart = nurse_client.get(f"/infusions/{session.pk}/").content.decode()
    assert "First infusion of ketamine blocked" in chart and link in chart
    # The chart's main action is resolving, not a checklist that would be refused.
    assert f'class="button primary inf-next" href="{link}"' in chart
    assert "Complete the pre-infusion checklist" not in chart
    page = nurse_client.get(f"/infusions/{session.pk}/checklist/").content.decode()
    assert item.text in page and link in page
    now = timezone.localtime().replace(second=0, microsecond=0)
    data = {
        k: (v.strftime("%Y-%m-%dT%H:%M") if isinstance(v, dt.datetime) else v)
        for k, v in checklist_data(now).items()
    }
    response = nurse_client.post(
        f"/infusions/{session.pk}/checklist/", {**data, "expected_version": session.version}
    )
    assert response.status_code == 200
    assert "Cannot complete the checklist" in response.content.decode()
    assert not PreInfusionChecklist.objects.exists()
    refusal = AuditEvent.objects.filter(outcome="denied").order_by("-sequence").first()
    assert refusal is not None and item.rule_id in refusal.detail["refused"]


def test_a_physician_resolves_an_item_from_the_link(session, physician, client_for):
    item = missing_ecg(session.patient, physician)
    link = reverse(
        "assessments:resolve_item", kwargs={"patient_id": item.patient_id, "item_id": item.pk}
    )
    response = client_for(Role.PHYSICIAN).post(
        link, {"note": "ECG on file from the family doctor", "expected_version": item.version}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.resolved_at is not None and item.resolved_by.role == Role.PHYSICIAN
    body = client_for(Role.NURSE).get(f"/infusions/{session.pk}/").content.decode()
    assert "blocked" not in body
