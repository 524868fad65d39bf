"""Scheduling pages: role matrix, IDOR, forms, the board's constant query count."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import Action, AuditEvent, Outcome
from painclinic.web.lib.clinictime import to_local
from painclinic.web.scheduling.models import Booking, BookingStatus, Chair
from tests.conftest import make_patient
from tests.web.scheduling.factories import (
    make_booking,
    make_chair,
    make_plan,
    make_session,
    next_weekday,
)

pytestmark = pytest.mark.django_db

P, N, F, B, A, T = (
    Role.PHYSICIAN,
    Role.NURSE,
    Role.FRONT_DESK,
    Role.BILLING,
    Role.CLINIC_ADMIN,
    Role.PATIENT,
)
URL_MATRIX: dict[str, set[Role]] = {
    "scheduling:board": {P, N, F, A},
    "scheduling:chairs": {A},
    "scheduling:chair_edit": {A},
    "scheduling:patient": {P, N, F},
    "scheduling:book_series": {F},
    "scheduling:booking": {P, N, F},
}


@pytest.fixture
def world(users, patient, chair, plan):
    monday = next_weekday(0)
    booking = make_booking(patient, chair, users[F], monday, plan=plan)
    return {"booking": booking, "plan": plan, "chair": chair, "patient": patient, "day": monday}


def url(name, world):
    kwargs = {
        "scheduling:chair_edit": {"chair_id": world["chair"].pk},
        "scheduling:patient": {"patient_id": world["patient"].pk},
        "scheduling:book_series": {"plan_id": world["plan"].pk},
        "scheduling:booking": {"booking_id": world["booking"].pk},
    }.get(name, {})
    return reverse(name, kwargs=kwargs)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_role_matrix(role, world, client_for):
    client = client_for(role)
    for name, allowed in URL_MATRIX.items():
        response = client.get(url(name, world))
        expected = 200 if role in allowed else 403
        assert response.status_code == expected, (name, role, response.status_code)


def test_anonymous_is_sent_to_login(client, world):
    for name in URL_MATRIX:
        assert client.get(url(name, world)).status_code == 302


def test_board_shows_cards_with_session_drug_rate_and_status(world, client_for, users):
    make_session(world["booking"])
    response = client_for(N).get(reverse("scheduling:board"), {"date": world["day"].isoformat()})
    page = response.content.decode()
    assert "Lovelace" in page and "Session 1 of 5" in page
    assert "Ketamine · 20 mg/h" in page
    assert "Scheduled" in page
    assert "09:00–13:00" in page
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.detail["patient_ids"] == [world["patient"].pk]


def test_board_handles_a_bad_date_and_a_closed_day(world, client_for):
    client = client_for(N)
    assert client.get(reverse("scheduling:board"), {"date": "2026-13-45"}).status_code == 200
    for far in ("9999-12-31", "0001-01-01"):
        response = client.get(reverse("scheduling:board"), {"date": far})
        assert response.status_code == 200 and response.context["day"] != far
    saturday = world["day"] - dt.timedelta(days=2)
    response = client.get(reverse("scheduling:board"), {"date": saturday.isoformat()})
    assert "No chair is open" in response.content.decode()


def test_board_query_count_does_not_grow_with_bookings(world, client_for, users):
    client = client_for(N)
    day = world["day"]
    board = reverse("scheduling:board")
    client.get(board, {"date": day.isoformat()})  # warm caches (sessions, content types)
    with CaptureQueriesContext(connection) as few:
        client.get(board, {"date": day.isoformat()})
    chairs = [make_chair(f"Chair {n}") for n in range(2, 6)]
    for n, chair in enumerate(chairs):
        other = make_patient(f"Pat{n}", f"Ient{n}")
        plan = make_plan(other, users[P], sessions=3)
        for number, start in enumerate(["08:00", "12:30"], start=1):
            booking = make_booking(
                other, chair, users[F], day, start, minutes=240, plan=plan, number=number
            )
            if n % 2:
                make_session(booking)
    with CaptureQueriesContext(connection) as many:
        response = client.get(board, {"date": day.isoformat()})
    assert len(response.context["board"].cards) == 9
    assert len(many.captured_queries) == len(few.captured_queries)


def test_book_series_preview_then_book(world, client_for, users, chair2):
    other = make_patient("Grace", "Hopper")
    plan = make_plan(other, users[P], sessions=5)
    client = client_for(F)
    target = reverse("scheduling:book_series", kwargs={"plan_id": plan.pk})
    data = {"date": world["day"].isoformat(), "start_time": "09:00", "chair": world["chair"].pk}
    preview = client.post(target, {**data, "action": "preview"})
    page = preview.content.decode()
    assert f"#{world['booking'].pk}" in page and "already taken" in page
    assert "Book all" not in page
    refused = client.post(target, {**data, "action": "book"})
    assert refused.status_code == 200 and Booking.objects.filter(patient=other).count() == 0
    assert refused.context["form"].errors["chair"]
    ok = {**data, "chair": chair2.pk}
    assert (
        "Book all 5 sessions" in client.post(target, {**ok, "action": "preview"}).content.decode()
    )
    response = client.post(target, {**ok, "action": "book"})
    assert response.status_code == 302
    assert Booking.objects.filter(patient=other, status=BookingStatus.BOOKED).count() == 5


@pytest.mark.parametrize(
    ("field", "value"),
    [("date", "2020-01-06"), ("start_time", "09:07"), ("start_time", "25:00"), ("date", "x")],
)
def test_book_series_bad_input_names_the_field_and_saves_nothing(
    world, client_for, users, field, value
):
    other = make_patient("Grace", "Hopper")
    plan = make_plan(other, users[P], sessions=2)
    data = {"date": world["day"].isoformat(), "start_time": "09:00", "chair": world["chair"].pk}
    data[field] = value
    client = client_for(F)
    before = (Booking.objects.count(), AuditEvent.objects.count())
    response = client.post(
        reverse("scheduling:book_series", kwargs={"plan_id": plan.pk}), {**data, "action": "book"}
    )
    assert field in response.context["form"].errors
    # The page view itself writes one read-audit row (the patient read); nothing else.
    assert Booking.objects.count() == before[0]
    assert AuditEvent.objects.count() == before[1] + 1


def test_booking_page_cancel_requires_a_reason_and_conflict_is_409(world, client_for):
    client = client_for(F)
    booking = world["booking"]
    target = reverse("scheduling:booking", kwargs={"booking_id": booking.pk})
    response = client.post(target, {"action": "cancel", "reason": "", "expected_version": 1})
    assert "reason" in response.context["cancel_form"].errors
    booking.refresh_from_db()
    assert booking.status == BookingStatus.BOOKED
    assert (
        client.post(
            target, {"action": "cancel", "reason": "patient unwell", "expected_version": 1}
        ).status_code
        == 302
    )
    stale = client.post(target, {"action": "cancel", "reason": "again", "expected_version": 1})
    assert stale.status_code == 409
    assert "Someone else changed this booking" in stale.content.decode()


def test_booking_page_reschedule(world, client_for, chair2):
    booking = world["booking"]
    target = reverse("scheduling:booking", kwargs={"booking_id": booking.pk})
    response = client_for(F).post(
        target,
        {
            "action": "reschedule",
            "date": world["day"].isoformat(),
            "start_time": "12:00",
            "chair": chair2.pk,
            "expected_version": 1,
        },
    )
    assert response.status_code == 302
    new = Booking.objects.get(rescheduled_from=booking)
    assert to_local(new.starts_at).hour == 12 and new.chair == chair2
    page = client_for(N).get(reverse("scheduling:booking", kwargs={"booking_id": new.pk}))
    assert f"#{booking.pk}" in page.content.decode()


def test_nurse_cannot_change_a_booking(world, client_for):
    target = reverse("scheduling:booking", kwargs={"booking_id": world["booking"].pk})
    response = client_for(N).post(
        target, {"action": "cancel", "reason": "no", "expected_version": 1}
    )
    assert response.status_code == 403


def test_unknown_booking_and_plan_are_404_and_audited(world, client_for):
    client = client_for(F)
    for name, kwargs in [
        ("scheduling:booking", {"booking_id": 999999}),
        ("scheduling:book_series", {"plan_id": 999999}),
        ("scheduling:patient", {"patient_id": 999999}),
    ]:
        before = AuditEvent.objects.filter(action=Action.ACCESS_DENIED).count()
        assert client.get(reverse(name, kwargs=kwargs)).status_code == 404
        event = AuditEvent.objects.filter(action=Action.ACCESS_DENIED).order_by("-sequence")[0]
        assert AuditEvent.objects.filter(action=Action.ACCESS_DENIED).count() == before + 1
        assert event.outcome == Outcome.DENIED


def test_admin_adds_and_deactivates_a_chair(client_for):
    client = client_for(A)
    data = {"name": "Chair 7", "location": "Room C", "opens_0": "08:00", "closes_0": "12:00"}
    assert client.post(reverse("scheduling:chairs"), data).status_code == 302
    chair = Chair.objects.get(name="Chair 7")
    bad = client.post(
        reverse("scheduling:chair_edit", kwargs={"chair_id": chair.pk}),
        {"name": "Chair 7", "opens_1": "12:00", "closes_1": "08:00"},
    )
    assert "closes_1" in bad.context["form"].errors
    client.post(
        reverse("scheduling:chair_edit", kwargs={"chair_id": chair.pk}), {"action": "deactivate"}
    )
    chair.refresh_from_db()
    assert chair.active is False


def test_open_chart_button_only_when_the_infusions_url_exists(world, client_for):
    from django.urls import NoReverseMatch

    page = (
        client_for(N)
        .get(reverse("scheduling:board"), {"date": world["day"].isoformat()})
        .content.decode()
    )
    try:
        reverse("infusions:open", kwargs={"booking_id": world["booking"].pk})
    except NoReverseMatch:
        assert "Open chart" not in page
    else:
        assert "Open chart" in page


def test_admin_closes_the_clinic_and_the_board_says_so(world, client_for):
    client = client_for(A)
    day = world["day"]
    response = client.post(
        reverse("scheduling:chairs"),
        {"action": "close", "date": day.isoformat(), "reason": "Water main repair"},
    )
    assert response.status_code == 302
    page = client.get(reverse("scheduling:chairs")).content.decode()
    assert "Water main repair" in page
    assert f"#{world['booking'].pk}" in page  # the booking now on a closed day is listed
    board = client_for(N).get(reverse("scheduling:board"), {"date": day.isoformat()})
    assert "The clinic is closed today: Water main repair" in board.content.decode()
    bad = client.post(reverse("scheduling:chairs"), {"action": "close", "date": "", "reason": ""})
    assert set(bad.context["closure_form"].errors) == {"date", "reason"}


def test_front_desk_sees_the_board_without_chart_buttons(world, client_for):
    make_session(world["booking"])
    page = client_for(F).get(reverse("scheduling:board"), {"date": world["day"].isoformat()})
    assert "Lovelace" in page.content.decode()
    assert "Open chart" not in page.content.decode()


def test_patient_page_offers_the_remaining_sessions(world, client_for):
    page = client_for(F).get(
        reverse("scheduling:patient", kwargs={"patient_id": world["patient"].pk})
    )
    assert "Book the 4 remaining sessions" in page.content.decode()
    assert (
        client_for(N)
        .get(reverse("scheduling:patient", kwargs={"patient_id": world["patient"].pk}))
        .status_code
        == 200
    )


def test_names_on_the_board_and_booking_page_are_escaped(world, client_for, users):
    evil = make_patient("<script>alert(1)</script>", "O'Brien<b>")
    plan = make_plan(evil, users[P], sessions=1)
    booking = make_booking(evil, make_chair("Chair X"), users[F], world["day"], "13:00", plan=plan)
    client = client_for(N)
    for response in (
        client.get(reverse("scheduling:board"), {"date": world["day"].isoformat()}),
        client.get(reverse("scheduling:booking", kwargs={"booking_id": booking.pk})),
    ):
        page = response.content.decode()
        assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
        assert "<b>" not in page


def test_todays_board_updates_its_grid_in_place_and_other_days_do_not(world, client_for):
    client = client_for(N)
    today = client.get(reverse("scheduling:board")).content.decode()
    assert 'http-equiv="refresh"' not in today and 'hx-trigger="every 60s"' in today
    other = client.get(reverse("scheduling:board"), {"date": world["day"].isoformat()})
    assert "hx-trigger" not in other.content.decode()
