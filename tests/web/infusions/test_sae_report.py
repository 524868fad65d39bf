"""Serious adverse events: the 24-hour report is marked once, with a reference, and audited."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import AuditEvent
from painclinic.web.infusions import services
from painclinic.web.infusions.inputs import AdverseEventInput
from painclinic.web.infusions.models import AdverseEvent
from painclinic.web.infusions.rules import Refused
from tests.web.infusions.conftest import fresh, make_request, run_to

pytestmark = pytest.mark.django_db


def record(session, nurse, *, minutes_ago: int = 30, severity: str = "severe") -> AdverseEvent:
    s = fresh(session)
    return services.do_record_adverse_event(
        make_request(nurse),
        s.pk,
        s.version,
        AdverseEventInput(
            occurred_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
            event_type="hypotension",
            severity=severity,
            action_taken="Infusion paused, fluids",
            outcome="resolved",
        ),
    )


@pytest.fixture
def running(session, nurse, nurse2):
    return run_to(session, "running", nurse, nurse2)


def test_a_physician_marks_it_reported_once_with_a_reference(running, nurse, physician):
    event = record(running, nurse)
    marked = services.do_mark_adverse_event_reported(
        make_request(physician), event.pk, "  OHP-2026-0412  "
    )
    assert marked.reported_by == physician and marked.report_reference == "OHP-2026-0412"
    assert marked.reported_at is not None
    audit = AuditEvent.objects.filter(detail__event="sae_reported").get()
    assert audit.detail["after"]["report_reference"] == "OHP-2026-0412"
    assert audit.detail["late"] is False


def test_it_cannot_be_changed_or_unset(running, nurse, physician, users):
    event = record(running, nurse)
    services.do_mark_adverse_event_reported(make_request(physician), event.pk, "OHP-1")
    with pytest.raises(Refused, match="cannot be changed"):
        services.do_mark_adverse_event_reported(
            make_request(users[Role.CLINIC_ADMIN]), event.pk, "OHP-2"
        )
    event.refresh_from_db()
    assert event.report_reference == "OHP-1" and event.reported_by == physician
    assert AuditEvent.objects.filter(detail__event="sae_reported", outcome="success").count() == 1
    refusal = AuditEvent.objects.order_by("-sequence").first()
    assert refusal.outcome == "denied" and refusal.actor_role == Role.CLINIC_ADMIN


def test_a_reference_is_required_and_nothing_is_set_without_it(running, nurse, physician):
    event = record(running, nurse)
    with pytest.raises(Refused) as refused:
        services.do_mark_adverse_event_reported(make_request(physician), event.pk, "   ")
    assert refused.value.field == "reference"
    event.refresh_from_db()
    assert event.reported_at is None and event.report_reference == ""


def test_a_non_serious_event_has_no_report(running, nurse, physician):
    event = record(running, nurse, severity="mild")
    with pytest.raises(Refused, match="Only a serious"):
        services.do_mark_adverse_event_reported(make_request(physician), event.pk, "x")


@pytest.mark.parametrize("role", [Role.NURSE, Role.FRONT_DESK, Role.BILLING])
def test_only_physicians_and_clinic_admins_mark_reports(running, nurse, users, role):
    event = record(running, nurse)
    with pytest.raises(PermissionDenied):
        services.do_mark_adverse_event_reported(make_request(users[role]), event.pk, "x")
    event.refresh_from_db()
    assert event.reported_at is None


def test_a_clinic_admin_marks_a_late_report_as_late(running, nurse, users, time_machine):
    event = record(running, nurse)
    time_machine.move_to(timezone.now() + dt.timedelta(hours=25))
    services.do_mark_adverse_event_reported(
        make_request(users[Role.CLINIC_ADMIN]), event.pk, "Faxed to CPSO OHP, 25 h"
    )
    assert AuditEvent.objects.filter(detail__event="sae_reported").get().detail["late"] is True


def test_the_chart_shows_due_overdue_and_reported(running, nurse, physician, client_for):
    due = record(running, nurse, minutes_ago=30)
    overdue = record(running, nurse, minutes_ago=25 * 60)
    chart_url = reverse("infusions:session", kwargs={"session_id": running.pk})
    body = client_for(Role.PHYSICIAN).get(chart_url).content.decode()
    due_local = timezone.localtime(due.report_due_at).strftime("%Y-%m-%d %H:%M")
    assert f"report due by {due_local}" in body
    assert "OVERDUE" in body
    assert reverse("infusions:mark_reported", kwargs={"event_id": due.pk}) in body
    services.do_mark_adverse_event_reported(make_request(physician), overdue.pk, "OHP-77")
    body = client_for(Role.NURSE).get(chart_url).content.decode()
    assert "OVERDUE" not in body
    assert "ref OHP-77" in body and physician.display_name in body
    # A nurse sees the state but no "Mark reported" link.
    assert reverse("infusions:mark_reported", kwargs={"event_id": due.pk}) not in body


def test_the_awaiting_report_list_puts_overdue_first_and_drops_reported(
    running, nurse, physician, client_for
):
    soon = record(running, nurse, minutes_ago=10)
    late = record(running, nurse, minutes_ago=26 * 60)
    reported = record(running, nurse, minutes_ago=60)
    services.do_mark_adverse_event_reported(make_request(physician), reported.pk, "OHP-5")
    response = client_for(Role.CLINIC_ADMIN).get(reverse("infusions:serious_events_to_report"))
    rows = [event.pk for event, _ in response.context["rows"]]
    assert rows == [late.pk, soon.pk]
    body = response.content.decode()
    assert "1 overdue" in body and body.index("OVERDUE") < body.index("due by")
    nav = client_for(Role.PHYSICIAN).get(reverse("infusions:serious_events")).content.decode()
    assert reverse("infusions:serious_events_to_report") in nav


def test_the_mark_page_sets_it_and_a_second_post_is_refused(running, nurse, physician, client_for):
    event = record(running, nurse)
    url = reverse("infusions:mark_reported", kwargs={"event_id": event.pk})
    client = client_for(Role.PHYSICIAN)
    empty = client.post(url, {"reference": " "})
    assert empty.status_code == 200 and "This field is required" in empty.content.decode()
    assert client.post(url, {"reference": "OHP-9"}).status_code == 302
    again = client.post(url, {"reference": "OHP-10"})
    assert again.status_code == 409 and "cannot be changed" in again.content.decode()
    event.refresh_from_db()
    assert event.report_reference == "OHP-9"
    assert AuditEvent.objects.filter(detail__event="sae_reported", outcome="denied").exists()


def test_an_unknown_event_is_a_404_and_audited(client_for):
    response = client_for(Role.PHYSICIAN).get(
        reverse("infusions:mark_reported", kwargs={"event_id": 999999})
    )
    assert response.status_code == 404
    assert AuditEvent.objects.filter(action="access_denied").exists()
