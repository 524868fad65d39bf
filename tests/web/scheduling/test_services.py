"""Booking rules: each conflict fired, and a neighbour that does not fire it."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import AuditEvent, Outcome
from painclinic.web.demo.scheduling import load_chairs
from painclinic.web.lib.clinictime import LocalTimeError, to_local, to_utc
from painclinic.web.scheduling.models import Booking, BookingStatus, Chair
from painclinic.web.scheduling.services import (
    BookingEditConflict,
    SchedulingError,
    do_book_series,
    do_cancel_booking,
    do_reschedule_booking,
    do_save_chair,
    do_set_chair_active,
    series_dates,
)
from painclinic.web.treatments.models import PlanStatus
from tests.conftest import actor_as, make_patient
from tests.web.scheduling.factories import (
    make_booking,
    make_chair,
    make_plan,
    make_session,
    next_weekday,
)

pytestmark = pytest.mark.django_db
T = dt.time.fromisoformat
MON, THU = 0, 3


def book(desk, plan, chair, day, start="09:00"):
    return do_book_series(desk, plan.pk, chair_id=chair.pk, first_date=day, start_time=T(start))


def problems(error):
    return [(p.field, p.message) for p in error.value.problems]


# --- series dates -------------------------------------------------------------------------------


def test_five_daily_sessions_from_a_thursday_skip_the_weekend():
    thursday = dt.date(2026, 12, 3)
    dates = series_dates([0, 1, 2, 3, 4], thursday, range(5))
    assert [d.strftime("%a %d") for d in dates] == [
        "Thu 03",
        "Fri 04",
        "Mon 07",
        "Tue 08",
        "Wed 09",
    ]


def test_gaps_are_kept_when_a_session_is_pushed_past_a_closed_day():
    thursday = dt.date(2026, 12, 3)
    # Alternate days: Thu, (Sat ->) Mon, then two days later: Wed.
    assert series_dates([0, 2, 4], thursday, range(5)) == [
        dt.date(2026, 12, 3),
        dt.date(2026, 12, 7),
        dt.date(2026, 12, 9),
    ]
    # Weekly sessions stay on their weekday.
    assert series_dates([0, 7, 14], dt.date(2026, 12, 7), range(5)) == [
        dt.date(2026, 12, 7),
        dt.date(2026, 12, 14),
        dt.date(2026, 12, 21),
    ]


def test_the_first_date_must_be_an_open_day():
    with pytest.raises(SchedulingError) as error:
        series_dates([0, 1], dt.date(2026, 12, 5), range(5))  # a Saturday
    assert problems(error)[0][0] == "date"


# --- booking a series ---------------------------------------------------------------------------


def test_a_series_is_booked_in_consecutive_weekdays_with_audit(desk, plan, chair):
    thursday = next_weekday(THU)
    before = AuditEvent.objects.count()
    bookings = book(desk, plan, chair, thursday)
    assert len(bookings) == 5
    local = [to_local(b.starts_at) for b in bookings]
    assert [d.weekday() for d in local] == [3, 4, 0, 1, 2]
    assert all(d.hour == 9 and d.minute == 0 for d in local)
    assert all(b.ends_at - b.starts_at == dt.timedelta(hours=4) for b in bookings)
    assert [b.planned_session.number for b in bookings] == [1, 2, 3, 4, 5]
    assert AuditEvent.objects.count() == before + 5


def test_chair_conflict_names_the_booking_and_nothing_is_booked(users, desk, plan, chair):
    monday = next_weekday(MON)
    other = make_patient("Grace", "Hopper")
    existing = make_booking(
        other, chair, users[Role.FRONT_DESK], monday + dt.timedelta(days=2), "12:00"
    )
    before = (Booking.objects.count(), AuditEvent.objects.count())
    with pytest.raises(SchedulingError) as error:
        book(desk, plan, chair, monday)
    assert [f for f, _ in problems(error)] == ["chair"]
    assert f"#{existing.pk}" in problems(error)[0][1] and "Hopper" in problems(error)[0][1]
    assert error.value.problems[0].booking == existing
    # All or nothing: sessions 1, 2, 4, 5 were free but none was booked; the refusal is on
    # record, naming the booking in the way.
    assert (Booking.objects.count(), AuditEvent.objects.count()) == (before[0], before[1] + 1)
    refused = AuditEvent.objects.order_by("-sequence").first()
    assert refused.outcome == Outcome.DENIED
    assert refused.detail["conflicting_booking_ids"] == [existing.pk]


def test_adjacent_bookings_touching_end_to_start_do_not_conflict(users, desk, plan, chair):
    monday = next_weekday(MON)
    other = make_patient("Grace", "Hopper")
    make_booking(other, chair, users[Role.FRONT_DESK], monday, "08:00", minutes=60)  # ends 09:00
    make_booking(other, chair, users[Role.FRONT_DESK], monday + dt.timedelta(days=1), "13:00", 60)
    assert len(book(desk, plan, chair, monday, "09:00")) == 5  # 09:00-13:00


def test_patient_conflict_in_another_chair(users, desk, plan, chair, chair2, patient):
    monday = next_weekday(MON)
    existing = make_booking(patient, chair2, users[Role.FRONT_DESK], monday, "12:30", minutes=30)
    with pytest.raises(SchedulingError) as error:
        book(desk, plan, chair, monday)
    assert problems(error) == [
        ("date", problems(error)[0][1]),
    ]
    assert f"#{existing.pk}" in problems(error)[0][1]
    # The same patient later that day, after the session ends, is fine.
    Booking.objects.filter(pk=existing.pk).update(
        starts_at=to_utc(monday, T("13:00")), ends_at=to_utc(monday, T("13:30"))
    )
    assert len(book(desk, plan, chair, monday)) == 5


def test_cancelled_bookings_do_not_conflict(users, desk, plan, chair):
    monday = next_weekday(MON)
    other = make_patient("Grace", "Hopper")
    old = make_booking(other, chair, users[Role.FRONT_DESK], monday, "09:00")
    Booking.objects.filter(pk=old.pk).update(status=BookingStatus.CANCELLED, cancel_reason="x")
    assert len(book(desk, plan, chair, monday)) == 5


def test_outside_opening_hours(desk, plan, chair):
    monday = next_weekday(MON)
    with pytest.raises(SchedulingError) as error:
        book(desk, plan, chair, monday, "13:15")  # ends 17:15, closes 17:00
    assert {f for f, _ in problems(error)} == {"start_time"}
    assert len(problems(error)) == 5
    with pytest.raises(SchedulingError):
        book(desk, plan, chair, monday, "07:45")
    assert len(book(desk, plan, chair, monday, "13:00")) == 5  # ends exactly at closing


def test_a_plan_awaiting_cosignature_cannot_be_booked(users, desk, patient, chair):
    pending = make_plan(patient, users[Role.PHYSICIAN], status=PlanStatus.AWAITING_COSIGN)
    with pytest.raises(SchedulingError) as error:
        book(desk, pending, chair, next_weekday(MON))
    assert "awaiting co-signature" in problems(error)[0][1]
    assert not Booking.objects.exists()


def test_a_plan_cannot_be_booked_twice(desk, plan, chair, chair2):
    book(desk, plan, chair, next_weekday(MON))
    with pytest.raises(SchedulingError) as error:
        book(desk, plan, chair2, next_weekday(MON, next_weekday(MON)))
    assert "already booked" in problems(error)[0][1]


def test_inactive_chair_and_past_dates_are_refused(users, desk, plan, chair):
    with pytest.raises(SchedulingError) as error:
        book(
            desk,
            plan,
            chair,
            timezone.localdate() - dt.timedelta(days=7 + timezone.localdate().weekday()),
        )
    assert "in the past" in problems(error)[0][1]
    do_set_chair_active(_as(users[Role.CLINIC_ADMIN]), chair.pk, active=False)
    with pytest.raises(SchedulingError) as error:
        book(desk, plan, chair, next_weekday(MON))
    assert "out of service" in problems(error)[0][1]


def _as(user):
    return actor_as(user)


@pytest.mark.parametrize("role", [Role.NURSE, Role.PHYSICIAN, Role.BILLING, Role.CLINIC_ADMIN])
def test_only_the_front_desk_books(users, plan, chair, role):
    with pytest.raises(PermissionDenied):
        book(_as(users[role]), plan, chair, next_weekday(MON))


# --- daylight saving ----------------------------------------------------------------------------


def test_a_booking_across_the_november_change_has_the_right_instants_and_duration(users, patient):
    # Sunday 2026-11-01: clocks go back at 02:00 EDT -> 01:00 EST.
    sunday = dt.date(2026, 11, 1)
    night = make_chair("Night chair", days=[6], opens="00:00", closes="23:00")
    plan = make_plan(patient, users[Role.PHYSICIAN], sessions=1, duration_min=240)
    with time_machine.travel(dt.datetime(2026, 10, 20, 12, tzinfo=dt.UTC)):
        [booking] = book(_as(users[Role.FRONT_DESK]), plan, night, sunday, "00:00")
    assert booking.starts_at == dt.datetime(2026, 11, 1, 4, 0, tzinfo=dt.UTC)  # 00:00 EDT
    assert booking.ends_at == dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
    assert booking.ends_at - booking.starts_at == dt.timedelta(hours=4)
    # Wall clock: 00:00 EDT to 03:00 EST (only three "clock hours" apart).
    assert to_local(booking.ends_at).strftime("%H:%M %Z") == "03:00 EST"


def test_wall_times_skipped_or_repeated_by_dst_are_refused():
    with pytest.raises(LocalTimeError, match="does not exist"):
        to_utc(dt.date(2027, 3, 14), T("02:30"))
    with pytest.raises(LocalTimeError, match="twice"):
        to_utc(dt.date(2026, 11, 1), T("01:30"))
    assert to_utc(dt.date(2026, 11, 1), T("03:00")) == dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)


def test_a_spring_booking_at_a_missing_time_is_refused(users, patient):
    night = make_chair("Night chair", days=[6], opens="00:00", closes="23:00")
    plan = make_plan(patient, users[Role.PHYSICIAN], sessions=1, duration_min=60)
    with (
        time_machine.travel(dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC)),
        pytest.raises(SchedulingError) as error,
    ):
        book(_as(users[Role.FRONT_DESK]), plan, night, dt.date(2027, 3, 14), "02:30")
    assert problems(error)[0][0] == "start_time"


# --- reschedule and cancel ----------------------------------------------------------------------


def test_reschedule_keeps_the_original(desk, plan, chair, chair2):
    bookings = book(desk, plan, chair, next_weekday(MON))
    first = bookings[0]
    new = do_reschedule_booking(
        desk,
        first.pk,
        expected_version=first.version,
        chair_id=chair2.pk,
        day=to_local(first.starts_at).date(),
        start_time=T("10:00"),
    )
    first.refresh_from_db()
    assert first.status == BookingStatus.CANCELLED and first.cancel_reason == "rescheduled"
    assert first.version == 2
    assert new.rescheduled_from == first and new.planned_session == first.planned_session
    assert new.chair == chair2 and to_local(new.starts_at).hour == 10
    assert new.ends_at - new.starts_at == dt.timedelta(hours=4)


def test_reschedule_onto_a_taken_slot_is_refused_and_the_original_stays(users, desk, plan, chair):
    bookings = book(desk, plan, chair, next_weekday(MON))
    first, second = bookings[0], bookings[1]
    with pytest.raises(SchedulingError) as error:
        do_reschedule_booking(
            desk,
            first.pk,
            expected_version=1,
            chair_id=chair.pk,
            day=to_local(second.starts_at).date(),
            start_time=T("11:00"),
        )
    # Same chair and same patient: both named.
    assert f"#{second.pk}" in problems(error)[0][1]
    first.refresh_from_db()
    assert first.status == BookingStatus.BOOKED
    # Moving it within its own slot does not conflict with itself.
    do_reschedule_booking(
        desk,
        first.pk,
        expected_version=1,
        chair_id=chair.pk,
        day=to_local(first.starts_at).date(),
        start_time=T("10:00"),
    )


def test_stale_version_is_a_conflict_not_an_overwrite(desk, plan, chair):
    first = book(desk, plan, chair, next_weekday(MON))[0]
    do_cancel_booking(desk, first.pk, expected_version=1, reason="patient unwell")
    with pytest.raises(BookingEditConflict) as error:
        do_cancel_booking(desk, first.pk, expected_version=1, reason="other reason")
    assert error.value.current.cancel_reason == "patient unwell"
    first.refresh_from_db()
    assert first.cancel_reason == "patient unwell" and first.version == 2
    assert AuditEvent.objects.order_by("-sequence").first().outcome == Outcome.CONFLICT


def test_cancel_without_a_reason_is_refused(desk, plan, chair):
    first = book(desk, plan, chair, next_weekday(MON))[0]
    before = AuditEvent.objects.count()
    with pytest.raises(SchedulingError) as error:
        do_cancel_booking(desk, first.pk, expected_version=1, reason="  ")
    assert problems(error)[0][0] == "reason"
    first.refresh_from_db()
    assert first.status == BookingStatus.BOOKED and AuditEvent.objects.count() == before + 1


def test_a_started_infusion_cannot_be_moved(desk, plan, chair):
    first = book(desk, plan, chair, next_weekday(MON))[0]
    session = make_session(first)
    type(session).objects.filter(pk=session.pk).update(status="running")
    with pytest.raises(SchedulingError):
        do_cancel_booking(desk, first.pk, expected_version=1, reason="x y z")


# --- chairs -------------------------------------------------------------------------------------


def test_chairs_are_deactivated_not_deleted_and_hours_are_switched_off(users):
    admin = _as(users[Role.CLINIC_ADMIN])
    chair = do_save_chair(
        admin, None, name="Chair 9", location="", hours={0: (T("08:00"), T("12:00"))}
    )
    chair = do_save_chair(
        admin, chair.pk, name="Chair 9", location="B", hours={1: (T("09:00"), T("10:00"))}
    )
    assert set(chair.opening_hours.filter(active=True).values_list("weekday", flat=True)) == {1}
    assert chair.opening_hours.count() == 2
    do_set_chair_active(admin, chair.pk, active=False)
    assert Chair.objects.get(pk=chair.pk).active is False
    with pytest.raises(SchedulingError):
        do_save_chair(admin, None, name="chair 9", location="", hours={})
    with pytest.raises(PermissionDenied):
        do_save_chair(_as(users[Role.FRONT_DESK]), None, name="X", location="", hours={})


def test_demo_loader_makes_four_weekday_chairs_idempotently():
    load_chairs()
    load_chairs()
    chairs = Chair.objects.all()
    assert chairs.count() == 4
    for chair in chairs:
        assert sorted(chair.opening_hours.values_list("weekday", flat=True)) == [0, 1, 2, 3, 4]


def test_series_skip_clinic_closures_and_bookings_on_them_are_refused(users, desk, plan, chair):
    from painclinic.web.scheduling.services import do_add_closure, do_reopen

    admin = _as(users[Role.CLINIC_ADMIN])
    monday = next_weekday(MON)
    closure = do_add_closure(admin, day=monday + dt.timedelta(days=2), reason="Staff training")
    with pytest.raises(SchedulingError) as error:
        do_add_closure(admin, day=closure.date, reason="twice")
    assert problems(error)[0][0] == "date"
    bookings = book(desk, plan, chair, monday)
    days = [to_local(b.starts_at).date() for b in bookings]
    assert closure.date not in days
    assert days == [monday + dt.timedelta(days=n) for n in (0, 1, 3, 4, 7)]
    # Moving a booking onto the closed day is refused; after reopening it is fine.
    with pytest.raises(SchedulingError) as error:
        do_reschedule_booking(
            desk,
            bookings[0].pk,
            expected_version=1,
            chair_id=chair.pk,
            day=closure.date,
            start_time=T("13:00"),
        )
    assert "Staff training" in problems(error)[0][1]
    do_reopen(admin, closure.pk)
    do_reschedule_booking(
        desk,
        bookings[0].pk,
        expected_version=1,
        chair_id=chair.pk,
        day=closure.date,
        start_time=T("13:00"),
    )


def test_a_series_cannot_start_on_a_closure(users, desk, plan, chair):
    from painclinic.web.scheduling.services import do_add_closure

    monday = next_weekday(MON)
    do_add_closure(_as(users[Role.CLINIC_ADMIN]), day=monday, reason="Family Day")
    with pytest.raises(SchedulingError) as error:
        book(desk, plan, chair, monday)
    assert "clinic is closed" in problems(error)[0][1].lower()


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2026, {"2026-02-16", "2026-04-03", "2026-05-18", "2026-09-07", "2026-10-12"}),
        (2027, {"2027-02-15", "2027-03-26", "2027-05-24", "2027-09-06", "2027-10-11"}),
    ],
)
def test_ontario_holidays(year, expected):
    from painclinic.web.demo.scheduling import load_holidays, ontario_holidays

    days = {d.isoformat() for d in ontario_holidays(year)}
    assert expected <= days and len(days) == 9
    assert load_holidays([year]) == 9 and load_holidays([year]) == 0


def test_a_session_longer_than_a_day_is_refused(users, desk, patient):
    night = make_chair("Always", days=range(7), opens="00:00", closes="23:59")
    plan = make_plan(patient, users[Role.PHYSICIAN], sessions=1, duration_min=25 * 60)
    with pytest.raises(SchedulingError) as error:
        book(desk, plan, night, next_weekday(MON))
    assert any("24 hours" in message for _, message in problems(error))


def test_a_cancelled_session_can_be_booked_again_alone(desk, plan, chair):
    bookings = book(desk, plan, chair, next_weekday(MON))
    third = bookings[2]
    do_cancel_booking(desk, third.pk, expected_version=1, reason="patient unwell that day")
    later = next_weekday(THU, to_local(bookings[-1].starts_at).date())
    [again] = book(desk, plan, chair, later, "13:00")
    assert again.planned_session == third.planned_session
    assert to_local(again.starts_at).date() == later
    with pytest.raises(SchedulingError) as error:
        book(desk, plan, chair, later, "08:00")
    assert "Every session" in problems(error)[0][1]
