"""One running infusion per patient, and a chart opened on its booking's clinic day.

The defect (security test, issue 10): a nurse opened tomorrow's booking today while today's
ketamine infusion ran, and every step (checklist, bag, double check, start) succeeded, so the
patient had two infusions running at once.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import Action, AuditEvent, Outcome
from painclinic.web.infusions import services
from painclinic.web.infusions.inputs import PauseInput, StartInput, StopInput
from painclinic.web.infusions.models import (
    InfusionSession,
    RateSegment,
    SessionEvent,
    SessionStatus,
)
from painclinic.web.lib.clinictime import to_utc
from painclinic.web.lib.service import Refused, RoleRefused
from tests.conftest import make_patient
from tests.web.infusions.conftest import (
    check_input,
    checklist_input,
    fresh,
    make_booking,
    make_plan,
    make_request,
    prep_input,
    run_to,
)

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    return timezone.localdate()


def hm(at: dt.datetime) -> str:
    return timezone.localtime(at).strftime("%H:%M")


def last_event() -> AuditEvent:
    return AuditEvent.objects.order_by("-sequence").first()


def prepare(session: InfusionSession, nurse, nurse2) -> InfusionSession:
    """Checklist, bag and double check now."""
    s = fresh(session)
    services.do_complete_checklist(make_request(nurse), s.pk, s.version, checklist_input())
    s = fresh(session)
    services.do_prepare_bag(make_request(nurse), s.pk, s.version, prep_input())
    s = fresh(session)
    services.do_double_check(make_request(nurse2), s.pk, s.version, check_input())
    return fresh(session)


# --- the clinic day ---------------------------------------------------------------------------


@pytest.mark.parametrize("days", [1, -1], ids=["tomorrow", "yesterday"])
def test_a_booking_of_another_clinic_day_cannot_be_opened(patient, physician, nurse, users, days):
    plan = make_plan(patient, physician)
    day = today() + dt.timedelta(days=days)
    booking = make_booking(plan, users[Role.FRONT_DESK], starts_at=to_utc(day, dt.time(10, 0)))
    with pytest.raises(Refused) as refused:
        services.do_open_session(make_request(nurse), booking.pk)
    message = refused.value.message
    assert f"{day:%Y-%m-%d}" in message and f"{today():%Y-%m-%d}" in message
    assert "physician" in message
    assert not InfusionSession.objects.exists()
    event = last_event()
    assert event.outcome == Outcome.DENIED and event.detail["service"] == "do_open_session"
    assert event.patient_id == patient.pk


def test_the_clinic_day_is_the_clinic_zones_day_not_utcs(patient, physician, nurse, users):
    """At 22:30 in Toronto it is already tomorrow in UTC: this evening's booking opens, and
    tomorrow's 00:30 booking (the same UTC date as now) does not."""
    day = today() + dt.timedelta(days=3)
    plan = make_plan(patient, physician)
    evening = make_booking(plan, users[Role.FRONT_DESK], starts_at=to_utc(day, dt.time(18, 0)))
    after_midnight = make_booking(
        plan,
        users[Role.FRONT_DESK],
        2,
        starts_at=to_utc(day + dt.timedelta(days=1), dt.time(0, 30)),
        chair="Chair 2",
    )
    now = to_utc(day, dt.time(22, 30))
    assert now.date() == after_midnight.starts_at.date() != evening.starts_at.date()
    with time_machine.travel(now, tick=False):
        assert services.do_open_session(make_request(nurse), evening.pk).booking_id == evening.pk
        with pytest.raises(Refused, match="a chart is opened on its booking's day"):
            services.do_open_session(make_request(nurse), after_midnight.pk)


def test_a_physician_opens_another_days_booking_with_a_reason_and_the_nurse_proceeds(
    patient, physician, nurse, nurse2, users
):
    plan = make_plan(patient, physician)
    tomorrow = today() + dt.timedelta(days=1)
    booking = make_booking(plan, users[Role.FRONT_DESK], starts_at=to_utc(tomorrow, dt.time(9, 0)))
    with pytest.raises(RoleRefused):
        services.do_open_session_off_day(make_request(nurse), booking.pk, "nurse tries")
    with pytest.raises(Refused, match="reason") as refused:
        services.do_open_session_off_day(make_request(physician), booking.pk, "   ")
    assert refused.value.field == "reason"
    assert not InfusionSession.objects.exists()

    reason = "Chair free today; patient travels from Sudbury and cannot come tomorrow"
    session = services.do_open_session_off_day(make_request(physician), booking.pk, reason)
    assert session.opened_off_day_reason == reason and session.opened_by == physician
    event = last_event()
    assert event.outcome == Outcome.SUCCESS and event.action == Action.CREATE
    assert event.detail["off_day"] is True and event.detail["reason"] == reason
    assert event.detail["booking_day"] == f"{tomorrow:%Y-%m-%d}"
    opened = SessionEvent.objects.get(session=session, kind="open")
    assert reason in opened.summary and f"{tomorrow:%Y-%m-%d}" in opened.summary

    # The nurse's own open finds it; the day goes on as usual, started now.
    assert services.do_open_session(make_request(nurse), booking.pk) == session
    s = prepare(session, nurse, nurse2)
    services.do_start(make_request(nurse), s.pk, s.version, StartInput(timezone.now()))
    assert fresh(s).status == SessionStatus.RUNNING


def test_the_physicians_path_is_for_another_day_only(patient, physician, users):
    booking = make_booking(make_plan(patient, physician), users[Role.FRONT_DESK])
    with pytest.raises(Refused, match="today"):
        services.do_open_session_off_day(make_request(physician), booking.pk, "no need")
    assert not InfusionSession.objects.exists()


# --- one running or paused infusion per patient ----------------------------------------------


def two_sessions(patient, physician, nurse, users) -> tuple[InfusionSession, InfusionSession]:
    """Two of the patient's bookings today (a double booking), both charts opened."""
    plan = make_plan(patient, physician)
    first = make_booking(plan, users[Role.FRONT_DESK])
    second = make_booking(
        plan,
        users[Role.FRONT_DESK],
        2,
        starts_at=timezone.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=30),
        chair="Chair 2",
    )
    a = services.do_open_session(make_request(nurse), first.pk)
    b = services.do_open_session(make_request(nurse), second.pk)
    return a, b


@pytest.mark.parametrize("other", ["running", "paused"])
def test_a_second_infusion_cannot_start_while_one_runs_or_is_paused(
    patient, physician, nurse, nurse2, users, other
):
    a, b = two_sessions(patient, physician, nurse, users)
    b = prepare(b, nurse, nurse2)
    a = run_to(a, "running", nurse, nurse2)
    started = RateSegment.objects.get(session=a).started_at
    if other == "paused":
        services.do_pause(
            make_request(nurse), a.pk, a.version, PauseInput(started + dt.timedelta(minutes=20))
        )
    before = AuditEvent.objects.count()
    with pytest.raises(Refused) as refused:
        services.do_start(make_request(nurse), b.pk, b.version, StartInput(timezone.now()))
    message = refused.value.message
    assert "Chair 1" in message and f"started {hm(started)}" in message and other in message
    assert fresh(b).status == SessionStatus.PREPARED
    assert not RateSegment.objects.filter(session=b).exists()
    assert AuditEvent.objects.count() == before + 1
    event = last_event()
    assert event.outcome == Outcome.DENIED and event.detail["service"] == "do_start"
    assert event.detail["other_session_id"] == a.pk


def test_after_the_first_infusion_stops_the_second_may_start(
    patient, physician, nurse, nurse2, users
):
    a, b = two_sessions(patient, physician, nurse, users)
    b = prepare(b, nurse, nurse2)
    a = run_to(a, "running", nurse, nurse2)
    started = RateSegment.objects.get(session=a).started_at
    services.do_stop(
        make_request(nurse), a.pk, a.version, StopInput(started + dt.timedelta(minutes=40))
    )
    # 25 mg/h for 40 min already given today: with this session's 100 mg, the 24-hour total is
    # above ketamine's 100 mg soft limit, so the start gives its reason.
    b = fresh(b)
    segment = services.do_start(
        make_request(nurse),
        b.pk,
        b.version,
        StartInput(timezone.now(), limit_reason="first bag ran 40 min only: pump failure"),
    )
    assert fresh(b).status == SessionStatus.RUNNING
    assert segment.limit_status == "soft_limit"


def test_no_chart_is_opened_while_another_infusion_of_the_patient_runs(
    patient, physician, nurse, nurse2, users
):
    """The security test's case: today's infusion runs and another booking is opened."""
    plan = make_plan(patient, physician)
    a = services.do_open_session(make_request(nurse), make_booking(plan, users[Role.FRONT_DESK]).pk)
    a = run_to(a, "running", nurse, nurse2)
    started = RateSegment.objects.get(session=a).started_at
    later = make_booking(
        plan,
        users[Role.FRONT_DESK],
        2,
        starts_at=timezone.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=5),
        chair="Chair 3",
    )
    with pytest.raises(Refused) as refused:
        services.do_open_session(make_request(nurse), later.pk)
    assert "Chair 1" in refused.value.message and f"started {hm(started)}" in refused.value.message
    assert InfusionSession.objects.count() == 1


def test_the_database_itself_holds_one_running_infusion_per_patient(
    patient, physician, nurse, nurse2, users
):
    """Whatever code path writes the status: a partial unique constraint."""
    a, b = two_sessions(patient, physician, nurse, users)
    run_to(a, "running", nurse, nurse2)
    with pytest.raises(IntegrityError), transaction.atomic():
        InfusionSession.objects.filter(pk=b.pk).update(status=SessionStatus.PAUSED)
    # Other patients are not affected.
    other = make_plan(make_patient("Grace", "Hopper"), physician, weight_kg=Decimal("80.0"))
    c = services.do_open_session(
        make_request(nurse), make_booking(other, users[Role.FRONT_DESK], chair="Chair 4").pk
    )
    InfusionSession.objects.filter(pk=c.pk).update(status=SessionStatus.RUNNING)


# --- the pages --------------------------------------------------------------------------------


def test_a_nurse_opening_tomorrows_booking_is_told_why(patient, physician, users, client_for):
    tomorrow = today() + dt.timedelta(days=1)
    booking = make_booking(
        make_plan(patient, physician),
        users[Role.FRONT_DESK],
        starts_at=to_utc(tomorrow, dt.time(9, 0)),
    )
    response = client_for(Role.NURSE).post(
        reverse("infusions:open", kwargs={"booking_id": booking.pk})
    )
    assert response.status_code == 409
    body = response.content.decode()
    assert f"{tomorrow:%Y-%m-%d}" in body and "physician" in body


def test_the_refused_second_start_is_shown_on_the_start_page(
    patient, physician, nurse, nurse2, users, client_for
):
    a, b = two_sessions(patient, physician, nurse, users)
    b = prepare(b, nurse, nurse2)
    a = run_to(a, "running", nurse, nurse2)
    started = RateSegment.objects.get(session=a).started_at
    at = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    response = client_for(Role.NURSE).post(
        reverse("infusions:start", kwargs={"session_id": b.pk}),
        {"expected_version": b.version, "at": at},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Chair 1" in body and f"started {hm(started)}" in body
    assert fresh(b).status == SessionStatus.PREPARED


def test_the_physician_opens_it_from_the_booking_page_with_a_reason(
    patient, physician, users, client_for
):
    tomorrow = today() + dt.timedelta(days=1)
    booking = make_booking(
        make_plan(patient, physician),
        users[Role.FRONT_DESK],
        starts_at=to_utc(tomorrow, dt.time(9, 0)),
    )
    client = client_for(Role.PHYSICIAN)
    page = client.get(reverse("scheduling:booking", args=[booking.pk])).content.decode()
    url = reverse("infusions:open_off_day", args=[booking.pk])
    assert f'href="{url}"' in page
    # The nurse's booking page has no such link: the nurse cannot open it on another day.
    nurse_page = client_for(Role.NURSE).get(reverse("scheduling:booking", args=[booking.pk]))
    assert url not in nurse_page.content.decode()
    response = client.post(url, {"reason": " "})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"]
    assert not InfusionSession.objects.exists()
    response = client.post(url, {"reason": "Only day the escort is free"})
    session = InfusionSession.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("infusions:session", args=[session.pk])
    chart = client.get(response["Location"]).content.decode()
    assert "Only day the escort is free" in chart
    assert f"for the booking of {tomorrow:%Y-%m-%d}" in chart
