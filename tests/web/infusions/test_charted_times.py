"""Charted times keep their order, and an entry charted late says so.

The bag is prepared and double-checked before the infusion starts; the start is no earlier than
the booking allows (its time less the clinic's margin, 30 min by default); every observation,
pause, resume, rate change and stop is after the start and not in the future. An entry whose time
is more than the clinic's late-entry minutes (10 by default) before it was charted is kept and
shown as a late entry, on the chart and in the summary the physician signs.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import AuditEvent
from painclinic.web.infusions import services
from painclinic.web.infusions.chart import build_chart, summary_text
from painclinic.web.infusions.inputs import (
    ObservationInput,
    PauseInput,
    RateChangeInput,
    ResumeInput,
    StartInput,
    StopInput,
)
from painclinic.web.infusions.models import BagPreparation, DoubleCheck, RateSegment
from painclinic.web.lib.service import Refused
from tests.web.infusions.conftest import (
    charted_at,
    fresh,
    make_booking,
    make_plan,
    make_request,
    run_to,
)

pytestmark = pytest.mark.django_db


def hm(at: dt.datetime) -> str:
    return timezone.localtime(at).strftime("%H:%M")


def vitals(at: dt.datetime) -> ObservationInput:
    return ObservationInput(
        observed_at=at,
        systolic_bp_mmhg=126,
        diastolic_bp_mmhg=78,
        heart_rate_bpm=72,
        respiratory_rate_per_min=14,
        spo2_percent=98,
        rass=0,
    )


# --- the start ----------------------------------------------------------------------------------


def test_the_start_cannot_be_charted_before_the_bags_double_check(session, nurse, nurse2):
    s = run_to(session, "prepared", nurse, nurse2)
    checked = DoubleCheck.objects.get(preparation__session=s).checked_at
    with pytest.raises(Refused) as refused:
        services.do_start(
            make_request(nurse), s.pk, s.version, StartInput(checked - dt.timedelta(minutes=5))
        )
    assert refused.value.field == "at"
    assert "double check" in refused.value.message and hm(checked) in refused.value.message
    assert not RateSegment.objects.filter(session=s).exists()
    # The same minute as the double check is fine (the form's times are whole minutes).
    segment = services.do_start(
        make_request(nurse), s.pk, s.version, StartInput(checked.replace(second=0, microsecond=0))
    )
    assert segment.started_at <= checked
    assert BagPreparation.objects.get(session=s).prepared_at <= checked


def test_the_start_is_no_earlier_than_the_booking_allows(patient, physician, nurse, nurse2, users):
    soon = timezone.now().replace(second=0, microsecond=0) + dt.timedelta(minutes=45)
    booking = make_booking(make_plan(patient, physician), users[Role.FRONT_DESK], starts_at=soon)
    session = services.do_open_session(make_request(nurse), booking.pk)
    s = run_to(session, "prepared", nurse, nurse2)
    with pytest.raises(Refused) as refused:
        services.do_start(make_request(nurse), s.pk, s.version, StartInput(timezone.now()))
    assert refused.value.field == "at"
    message = refused.value.message
    assert f"booked for {hm(soon)}" in message and hm(soon - dt.timedelta(minutes=30)) in message
    assert not RateSegment.objects.filter(session=s).exists()


def test_the_margin_before_the_booking_is_the_clinics(
    patient, physician, nurse, nurse2, users, settings
):
    settings.INFUSION_START_EARLY_MARGIN_MIN = 60
    soon = timezone.now().replace(second=0, microsecond=0) + dt.timedelta(minutes=45)
    booking = make_booking(make_plan(patient, physician), users[Role.FRONT_DESK], starts_at=soon)
    s = run_to(services.do_open_session(make_request(nurse), booking.pk), "prepared", nurse, nurse2)
    services.do_start(make_request(nurse), s.pk, s.version, StartInput(timezone.now()))
    assert RateSegment.objects.filter(session=s).count() == 1


# --- after the start, not in the future ---------------------------------------------------------


def running(session, nurse, nurse2):
    s = run_to(session, "running", nurse, nurse2)
    return s, RateSegment.objects.get(session=s).started_at


CALLS = {
    "observation": lambda s, at: services.do_record_observation(
        make_request(s.nurse), s.pk, s.version, vitals(at)
    ),
    "pause": lambda s, at: services.do_pause(
        make_request(s.nurse), s.pk, s.version, PauseInput(at)
    ),
    "rate change": lambda s, at: services.do_change_rate(
        make_request(s.nurse), s.pk, s.version, RateChangeInput(at, Decimal(20), "mg/h")
    ),
    "stop": lambda s, at: services.do_stop(make_request(s.nurse), s.pk, s.version, StopInput(at)),
}
FIELDS = {"observation": "observed_at"}


@pytest.mark.parametrize("kind", list(CALLS))
@pytest.mark.parametrize("when", ["before the start", "in the future"])
def test_each_entry_is_after_the_start_and_not_in_the_future(session, nurse, nurse2, kind, when):
    s, started = running(session, nurse, nurse2)
    s.nurse = nurse
    at = (
        started - dt.timedelta(minutes=1)
        if when == "before the start"
        else timezone.now() + dt.timedelta(minutes=5)
    )
    events = s.events.count()
    with pytest.raises(Refused) as refused:
        CALLS[kind](s, at)
    assert refused.value.field == FIELDS.get(kind, "at")
    assert ("future" if when == "in the future" else "before") in refused.value.message
    assert s.events.count() == events


def test_a_resume_is_after_the_pause(session, nurse, nurse2):
    s, started = running(session, nurse, nurse2)
    paused = started + dt.timedelta(minutes=20)
    services.do_pause(make_request(nurse), s.pk, s.version, PauseInput(paused))
    s = fresh(s)
    with pytest.raises(Refused, match="before the previous") as refused:
        services.do_resume(
            make_request(nurse), s.pk, s.version, ResumeInput(paused - dt.timedelta(minutes=1))
        )
    assert refused.value.field == "at"


# --- late entries -------------------------------------------------------------------------------


def test_an_observation_charted_late_is_kept_and_marked(session, nurse, nurse2, client_for):
    s, started = running(session, nurse, nurse2)
    on_time_at = started + dt.timedelta(minutes=15)
    with charted_at(on_time_at + dt.timedelta(minutes=2)):
        services.do_record_observation(make_request(nurse), s.pk, s.version, vitals(on_time_at))
    late_at = started + dt.timedelta(minutes=30)
    charted = late_at + dt.timedelta(minutes=25)
    with charted_at(charted):
        s = fresh(s)
        late = services.do_record_observation(make_request(nurse), s.pk, s.version, vitals(late_at))
    assert late.observed_at == late_at  # kept at its clinical time
    event = AuditEvent.objects.filter(detail__event="observation").order_by("-sequence").first()
    assert event.detail["late_entry"] is True
    assert event.detail["charted_at"] == late.recorded_at.isoformat()

    body = client_for(Role.NURSE).get(reverse("infusions:session", args=[s.pk])).content.decode()
    mark = f"late entry, charted at {hm(late.recorded_at)} by {nurse.display_name}"
    assert body.count(mark) == 2  # its observation row and its line in the charted events
    assert f"charted at {hm(on_time_at + dt.timedelta(minutes=2))}" not in body

    summary = summary_text(build_chart(fresh(s)))
    assert f"Late entries: observation {hm(late_at)} ({mark})" in summary
    # The start, charted at its own time by the fixture, is not late.
    assert f"start {hm(started)} (late" not in summary


def test_a_pause_charted_late_is_marked_in_the_record(session, nurse, nurse2, client_for):
    s, started = running(session, nurse, nurse2)
    paused = started + dt.timedelta(minutes=20)
    with charted_at(paused + dt.timedelta(minutes=30)):
        services.do_pause(make_request(nurse), s.pk, s.version, PauseInput(paused))
    body = client_for(Role.NURSE).get(reverse("infusions:session", args=[s.pk])).content.decode()
    assert body.count(f"late entry, charted at {hm(paused + dt.timedelta(minutes=30))}") == 1
    assert f"pause {hm(paused)} (late entry" in summary_text(build_chart(fresh(s)))


def test_how_late_is_late_is_the_clinics(session, nurse, nurse2, settings):
    settings.INFUSION_LATE_ENTRY_MIN = 60
    s, started = running(session, nurse, nurse2)
    at = started + dt.timedelta(minutes=15)
    with charted_at(at + dt.timedelta(minutes=40)):
        services.do_record_observation(make_request(nurse), s.pk, s.version, vitals(at))
    assert "Late entries" not in summary_text(build_chart(fresh(s)))
