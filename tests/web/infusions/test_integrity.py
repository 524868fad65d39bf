"""Delivered dose arithmetic, daylight-saving durations, constant query counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from painclinic.web.accounts.models import Role
from painclinic.web.infusions import services
from painclinic.web.infusions.chart import build_chart, observation_schedule
from painclinic.web.infusions.inputs import ObservationInput, StopInput
from painclinic.web.infusions.models import Observation, RateSegment
from painclinic.web.infusions.rules import delivered_mg
from tests.conftest import make_patient
from tests.web.infusions.conftest import (
    checklist_input,
    dose_entry,
    fresh,
    make_booking,
    make_plan,
    make_request,
    prep_input,
    run_to,
)

UTC = dt.UTC
TORONTO = ZoneInfo("America/Toronto")


@given(
    st.lists(
        st.tuples(
            st.decimals(min_value=Decimal("0.1"), max_value=Decimal("120"), places=2),
            st.integers(min_value=1, max_value=24 * 3600),
            st.integers(min_value=0, max_value=3600),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_delivered_dose_is_the_sum_of_rate_times_time(pieces):
    """Against independent exact arithmetic (fractions of an hour), with pauses between."""
    t = dt.datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # spans the spring-forward change
    segments = []
    expected = Fraction(0)
    for rate, seconds, gap in pieces:
        end = t + dt.timedelta(seconds=seconds)
        segments.append(RateSegment(started_at=t, ended_at=end, rate_mg_per_h=rate))
        expected += Fraction(rate) * Fraction(seconds, 3600)
        t = end + dt.timedelta(seconds=gap)
    got = delivered_mg(segments, t)
    assert abs(Fraction(got) - expected) < Fraction(1, 10**12)


def test_a_running_segment_counts_up_to_now():
    start = dt.datetime(2026, 5, 1, 14, 0, tzinfo=UTC)
    segment = RateSegment(started_at=start, ended_at=None, rate_mg_per_h=Decimal("25"))
    assert delivered_mg([segment], start + dt.timedelta(minutes=90)) == Decimal("37.5")


@pytest.mark.django_db
def test_a_session_across_the_daylight_saving_change_reports_the_right_duration(
    plan, users, nurse, nurse2
):
    # 2026-11-01 00:30 EDT (04:30 UTC) to 03:30 EST (08:30 UTC): 4 hours, though the wall
    # clock moved 3.
    start = dt.datetime(2026, 11, 1, 0, 30, tzinfo=TORONTO)
    stop = dt.datetime(2026, 11, 1, 3, 30, tzinfo=TORONTO)
    assert stop.replace(tzinfo=None) - start.replace(tzinfo=None) == dt.timedelta(hours=3)
    booking = make_booking(plan, users[Role.FRONT_DESK], starts_at=start.astimezone(UTC))
    with time_machine.travel(dt.datetime(2026, 11, 1, 9, 0, tzinfo=UTC), tick=False):
        session = services.do_open_session(make_request(nurse), booking.pk)
        s = run_to(session, "running", nurse, nurse2, start_at=start)
        services.do_stop(make_request(nurse), s.pk, s.version, StopInput(stop))
        chart = build_chart(fresh(s))
    assert chart.elapsed_min == 240
    assert chart.infusing_min == 240
    assert chart.delivered_mg == Decimal(100)  # 25 mg/h x 4 h
    segment = RateSegment.objects.get(session=s)
    assert segment.started_at == dt.datetime(2026, 11, 1, 4, 30, tzinfo=UTC)
    assert segment.ended_at == dt.datetime(2026, 11, 1, 8, 30, tzinfo=UTC)


@pytest.mark.django_db
def test_observation_schedule_follows_the_protocol_cadence(session, nurse, nurse2):
    s = run_to(session, "running", nurse, nurse2)
    start = s.segments.first().started_at
    # q15 min in hour 1, q30 min for 2 h, then hourly, to 240 min.
    schedule = observation_schedule(s, start, [], start, None)
    assert [d.minute for d in schedule] == [0, 15, 30, 45, 60, 90, 120, 150, 180, 240]
    obs = [
        Observation(pk=1, observed_at=start + dt.timedelta(minutes=1)),
        Observation(pk=2, observed_at=start + dt.timedelta(minutes=13)),  # early window
    ]
    now = start + dt.timedelta(minutes=36)
    states = [d.state for d in observation_schedule(s, start, obs, now, None)]
    assert states[:4] == ["done", "done", "overdue", "upcoming"]  # +30 is past its grace
    now = start + dt.timedelta(minutes=34)
    assert observation_schedule(s, start, obs, now, None)[2].state == "due"


@pytest.mark.django_db
def test_chart_query_count_does_not_grow_with_the_data(
    session, nurse, nurse2, patient, physician, users, client_for
):
    s = run_to(session, "running", nurse, nurse2)
    start = s.segments.first().started_at
    services.do_record_observation(
        make_request(nurse),
        s.pk,
        s.version,
        ObservationInput(
            observed_at=start + dt.timedelta(minutes=1),
            systolic_bp_mmhg=120,
            diastolic_bp_mmhg=80,
            heart_rate_bpm=70,
            respiratory_rate_per_min=14,
            spo2_percent=98,
            rass=0,
        ),
    )
    client = client_for(Role.NURSE)
    url = reverse("infusions:session", kwargs={"session_id": s.pk})
    client.get(url)
    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200
    # More observations on this session and more sessions in the clinic.
    Observation.objects.bulk_create(
        [
            Observation(
                session=s,
                observed_at=start + dt.timedelta(minutes=2 + i),
                systolic_bp_mmhg=120,
                diastolic_bp_mmhg=80,
                heart_rate_bpm=70,
                respiratory_rate_per_min=14,
                spo2_percent=98,
                rass=0,
                action="continue",
                recorded_by=nurse,
                recorded_at=timezone.now(),
            )
            for i in range(30)
        ]
    )
    for i in range(3):
        # Other patients: this one's infusion runs, and a patient has one at a time.
        other = services.do_open_session(
            make_request(nurse),
            make_booking(
                make_plan(make_patient(f"Other{i}", "Patient"), physician),
                users[Role.FRONT_DESK],
                chair=f"Chair {i + 2}",
            ).pk,
        )
        services.do_complete_checklist(make_request(nurse), other.pk, 1, checklist_input())
    with CaptureQueriesContext(connection) as second:
        assert client.get(url).status_code == 200
    assert len(second) == len(first), [q["sql"] for q in second.captured_queries]


@pytest.mark.django_db
def test_same_nurse_double_check_over_http_is_refused_and_audited(
    session, nurse, nurse2, client_for
):
    from painclinic.web.audit.models import AuditEvent

    s = run_to(session, "checklist", nurse, nurse2)
    services.do_prepare_bag(make_request(nurse), s.pk, s.version, prep_input())
    s = fresh(s)
    post = {k: str(v) for k, v in dose_entry().items()}
    post["expected_version"] = s.version
    response = client_for(Role.NURSE).post(
        reverse("infusions:double_check", kwargs={"session_id": s.pk}), post
    )
    assert response.status_code == 200
    assert "different nurse" in response.content.decode()
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.outcome == "denied" and "different nurse" in event.detail["refused"]
    assert fresh(s).status == "checklist_done"


@pytest.mark.django_db
def test_a_due_time_the_infusion_ended_without_is_missed_not_overdue(session, nurse, nurse2):
    s = run_to(session, "running", nurse, nurse2)
    start = s.segments.first().started_at
    obs = [Observation(pk=1, observed_at=start + dt.timedelta(minutes=1))]
    stopped = start + dt.timedelta(minutes=40)
    later = start + dt.timedelta(hours=3)
    schedule = observation_schedule(s, start, obs, later, stopped)
    # +0 was taken; +15 and +30 were due before the stop and never taken; nothing after the stop.
    assert [(d.minute, d.state) for d in schedule] == [
        (0, "done"),
        (15, "missed"),
        (30, "missed"),
    ]
    assert not [d for d in schedule if d.state == "overdue"]
