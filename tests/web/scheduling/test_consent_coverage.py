"""A plan longer than the signed consent: the sessions beyond it need a new estimate and consent
before they are booked (billing issue). The plan is saved through the treatments service after
a real consent for 5 sessions of the CRPS outpatient series; the front desk books it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import AuditEvent, Outcome
from painclinic.web.demo.treatments import load_fee_schedule
from painclinic.web.scheduling.models import Booking, BookingStatus
from painclinic.web.scheduling.services import (
    SchedulingError,
    do_book_series,
    do_cancel_booking,
    do_reschedule_booking,
)
from painclinic.web.treatments.coverage import plan_consent_coverage
from painclinic.web.treatments.models import PlanStatus, TreatmentConsent
from painclinic.web.treatments.services import (
    do_create_plan,
    do_withdraw_treatment_consent,
    preview_plan,
)
from tests.conftest import actor_as, logged_in_client, make_user
from tests.web.scheduling.factories import make_chair, next_weekday
from tests.web.treatments.conftest import decide_eligibility, sign_consent

pytestmark = pytest.mark.django_db
T = dt.time.fromisoformat
MON = 0
PROTOCOL = "ket-crps-outpatient"
BEYOND_5 = (
    "Session 6 is beyond the 5 sessions the patient consented to; record a new consent "
    "with its estimate first."
)


@pytest.fixture
def consented_5(patient, users):
    """Eligible for ketamine, fee schedule loaded, consent signed for 5 sessions."""
    physician, nurse = users[Role.PHYSICIAN], users[Role.NURSE]
    load_fee_schedule(actor_as(make_user(Role.CLINIC_ADMIN, "fees-admin")))
    decide_eligibility(patient, "ketamine", physician)
    return sign_consent(patient, PROTOCOL, 5, physician, nurse)


def save_plan(patient, physician, sessions):
    preview = preview_plan(patient, PROTOCOL, sessions)
    return do_create_plan(
        actor_as(physician),
        patient,
        protocol_id=PROTOCOL,
        sessions=sessions,
        soft_limit_reason="",
        expected_weight_id=preview.weight.weight.pk,
    )


@pytest.fixture
def plan_10(consented_5, patient, users):
    return save_plan(patient, users[Role.PHYSICIAN], 10)


@pytest.fixture
def desk(users):
    return actor_as(users[Role.FRONT_DESK])


@pytest.fixture
def chair(db):
    return make_chair("Chair 1")


def book(desk, plan, chair, day):
    return do_book_series(desk, plan.pk, chair_id=chair.pk, first_date=day, start_time=T("09:00"))


def booked_numbers(plan):
    return sorted(
        Booking.objects.filter(plan=plan, status=BookingStatus.BOOKED).values_list(
            "planned_session__number", flat=True
        )
    )


def visible_text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_plan_for_10_is_saved_after_a_consent_for_5(plan_10, consented_5):
    assert plan_10.status == PlanStatus.ACTIVE and plan_10.sessions.count() == 10
    coverage = plan_consent_coverage(plan_10)
    assert (coverage.consent, coverage.covered, coverage.short) == (consented_5, 5, True)
    # The boundary: the 5th session is covered, the 6th is not.
    assert coverage.covers(5) and not coverage.covers(6)


def test_sessions_1_to_5_are_booked_and_6_is_refused_until_a_new_consent(
    plan_10, patient, users, desk, chair
):
    monday = next_weekday(MON)
    bookings = book(desk, plan_10, chair, monday)
    # Only the consented sessions, the 5th included.
    assert [b.planned_session.number for b in bookings] == [1, 2, 3, 4, 5]

    before = (Booking.objects.count(), AuditEvent.objects.count())
    with pytest.raises(SchedulingError) as error:
        book(desk, plan_10, chair, monday + dt.timedelta(days=14))
    assert error.value.message == BEYOND_5
    # Nothing saved; the refusal is on record with the numbers.
    assert (Booking.objects.count(), AuditEvent.objects.count()) == (before[0], before[1] + 1)
    refused = AuditEvent.objects.order_by("-sequence").first()
    assert refused.outcome == Outcome.DENIED
    assert refused.detail["session"] == 6 and refused.detail["consented_sessions"] == 5

    # A new consent for the 10 sessions (with its estimate): session 6 onwards can be booked.
    sign_consent(patient, PROTOCOL, 10, users[Role.PHYSICIAN], users[Role.NURSE])
    more = book(desk, plan_10, chair, monday + dt.timedelta(days=14))
    assert [b.planned_session.number for b in more] == [6, 7, 8, 9, 10]
    assert booked_numbers(plan_10) == list(range(1, 11))


def test_a_consent_for_as_many_sessions_as_planned_books_the_whole_series(
    consented_5, patient, users, desk, chair
):
    plan = save_plan(patient, users[Role.PHYSICIAN], 5)
    assert not plan_consent_coverage(plan).short
    assert len(book(desk, plan, chair, next_weekday(MON))) == 5


def test_a_session_beyond_the_consent_cannot_be_moved_either(plan_10, patient, users, desk, chair):
    """A newer consent for fewer sessions replaces the older one: a booking of a session it
    does not cover is not moved (the desk is told why)."""
    sign_consent(patient, PROTOCOL, 10, users[Role.PHYSICIAN], users[Role.NURSE])
    monday = next_weekday(MON)
    bookings = book(desk, plan_10, chair, monday)
    sign_consent(patient, PROTOCOL, 5, users[Role.PHYSICIAN], users[Role.NURSE])
    sixth = next(b for b in bookings if b.planned_session.number == 6)
    with pytest.raises(SchedulingError) as error:
        do_reschedule_booking(
            desk,
            sixth.pk,
            expected_version=sixth.version,
            chair_id=chair.pk,
            day=monday + dt.timedelta(days=21),
            start_time=T("09:00"),
        )
    assert error.value.message == BEYOND_5
    sixth.refresh_from_db()
    assert sixth.status == BookingStatus.BOOKED and not hasattr(sixth, "rescheduled_to")
    # A covered session still moves.
    fifth = next(b for b in bookings if b.planned_session.number == 5)
    moved = do_reschedule_booking(
        desk,
        fifth.pk,
        expected_version=fifth.version,
        chair_id=chair.pk,
        day=monday + dt.timedelta(days=21),
        start_time=T("09:00"),
    )
    assert moved.planned_session.number == 5


def test_a_withdrawn_consent_covers_nothing(plan_10, consented_5, users, desk, chair):
    # The withdrawal row on its own (the service also cancels the plan, tested below).
    TreatmentConsent.objects.create(
        **{
            f.name: getattr(consented_5, f.name)
            for f in TreatmentConsent._meta.concrete_fields
            if f.name not in ("id", "decision", "withdraws")
        },
        decision="withdrawn",
        withdraws=consented_5,
    )
    coverage = plan_consent_coverage(plan_10)
    assert coverage.consent is None and coverage.covered == 0 and not coverage.covers(1)
    with pytest.raises(SchedulingError) as error:
        book(desk, plan_10, chair, next_weekday(MON))
    assert "Session 1 is not covered by a treatment consent" in error.value.message
    assert not Booking.objects.filter(plan=plan_10).exists()


def test_withdrawing_the_consent_refuses_booking(plan_10, consented_5, users, desk, chair):
    do_withdraw_treatment_consent(actor_as(users[Role.PHYSICIAN]), consented_5, "changed mind")
    with pytest.raises(SchedulingError):
        book(desk, plan_10, chair, next_weekday(MON))
    assert not Booking.objects.filter(plan=plan_10).exists()


def test_cancelled_covered_session_is_booked_again_but_not_beyond(plan_10, desk, chair):
    monday = next_weekday(MON)
    bookings = book(desk, plan_10, chair, monday)
    third = bookings[2]
    do_cancel_booking(desk, third.pk, expected_version=third.version, reason="patient unwell")
    again = book(desk, plan_10, chair, monday + dt.timedelta(days=14))
    assert [b.planned_session.number for b in again] == [3]


# --- pages --------------------------------------------------------------------------------------


def test_plan_page_says_what_the_consent_covers_and_links_to_a_new_consent(plan_10, users):
    client = logged_in_client(users[Role.PHYSICIAN])
    page = client.get(reverse("treatments:plan", kwargs={"plan_id": plan_10.pk}))
    text = visible_text(page.content.decode())
    estimate = plan_10.consent.estimate_total_cents
    dollars = f"${estimate // 100:,}.{estimate % 100:02d}"
    assert (
        f"The signed consent covers 5 sessions (estimate {dollars}). Sessions 6–10 need a new "
        "estimate and consent before they can be booked." in text
    )
    link = reverse("treatments:consent_new", kwargs={"patient_id": plan_10.patient_id})
    html = page.content.decode()
    assert f'href="{link}?protocol_id={PROTOCOL}&amp;sessions=10"' in html
    # The link opens the consent form with the estimate for the 10 sessions.
    form = client.get(link, {"protocol_id": PROTOCOL, "sessions": 10})
    assert form.status_code == 200
    assert form.context["estimate"].sessions == 10
    assert form.context["estimate"].total_cents > estimate
    # Words, not codes: no field or rule name in what the page shows.
    assert not re.search(r"\b(consented_sessions|consent_id|estimate_total_cents)\b", text)


def test_plan_page_says_nothing_once_the_consent_covers_the_plan(plan_10, patient, users):
    sign_consent(patient, PROTOCOL, 10, users[Role.PHYSICIAN], users[Role.NURSE])
    client = logged_in_client(users[Role.PHYSICIAN])
    page = client.get(reverse("treatments:plan", kwargs={"plan_id": plan_10.pk}))
    assert "need a new estimate and consent" not in page.content.decode()


def test_front_desk_pages_offer_only_the_consented_sessions(plan_10, users, chair):
    client = logged_in_client(users[Role.FRONT_DESK])
    page = client.get(reverse("scheduling:patient", kwargs={"patient_id": plan_10.patient_id}))
    text = visible_text(page.content.decode())
    assert "Book the 5 remaining sessions" in text
    assert "Sessions 6–10 need a new estimate and consent before they can be booked." in text

    target = reverse("scheduling:book_series", kwargs={"plan_id": plan_10.pk})
    monday = next_weekday(MON)
    form = {"chair": chair.pk, "date": monday.isoformat(), "start_time": "09:00"}
    preview = client.post(target, {**form, "action": "preview"})
    text = visible_text(preview.content.decode())
    assert "Book all 5 sessions" in text
    assert "Not offered in this series (beyond the signed consent): session 6, session 7" in text
    assert [s.planned_session.number for s in preview.context["proposal"]] == [1, 2, 3, 4, 5]

    client.post(target, {**form, "action": "book"})
    assert booked_numbers(plan_10) == [1, 2, 3, 4, 5]
    page = client.get(target)
    assert visible_text(page.content.decode()).count(BEYOND_5) == 1
    assert "Check the dates" not in page.content.decode()


def test_new_plan_page_warns_that_a_longer_plan_needs_a_new_consent(consented_5, patient, users):
    client = logged_in_client(users[Role.PHYSICIAN])
    target = reverse("treatments:plan_new", kwargs={"patient_id": patient.pk})
    text = visible_text(
        client.get(target, {"protocol_id": PROTOCOL, "sessions": 10}).content.decode()
    )
    assert "The signed consent covers 5 sessions" in text
    assert "Sessions 6–10 need a new estimate and consent before they can be booked." in text
    assert "This plan cannot be saved" not in text
    same = visible_text(
        client.get(target, {"protocol_id": PROTOCOL, "sessions": 5}).content.decode()
    )
    assert "need a new estimate and consent" not in same
