"""Cancelling a session that has not started: reason, booking, chair, and any drawn drug."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import AuditEvent
from painclinic.web.drugregister.models import EntryKind, RegisterEntry
from painclinic.web.infusions import services
from painclinic.web.infusions.inputs import CancelInput, NoteInput
from painclinic.web.infusions.models import SessionCancellation, SessionEvent, SessionStatus
from painclinic.web.infusions.rules import Refused
from painclinic.web.scheduling import services as scheduling
from painclinic.web.scheduling.models import Booking, BookingStatus
from tests.conftest import PASSWORD
from tests.web.infusions.conftest import fresh, make_request, run_to

pytestmark = pytest.mark.django_db


def cancel(session, user, **data):
    s = fresh(session)
    return services.do_cancel_session(make_request(user), s.pk, s.version, CancelInput(**data))


def test_a_nurse_cancels_a_scheduled_session_and_the_booking_frees_the_chair(session, nurse):
    cancellation = cancel(session, nurse, reason="patient_unwell", detail="fever 38.4")
    s = fresh(session)
    assert s.status == SessionStatus.CANCELLED
    assert cancellation.reason_text == "Patient unwell: fever 38.4"
    assert cancellation.status_before == SessionStatus.SCHEDULED
    booking = Booking.objects.get(pk=s.booking_id)
    assert booking.status == BookingStatus.CANCELLED
    assert booking.cancel_reason == "Patient unwell"  # the details stay on the chart
    assert SessionEvent.objects.filter(session=s, kind="cancel").get().version == s.version
    assert AuditEvent.objects.filter(detail__event="cancel", detail__reason="patient_unwell")
    assert AuditEvent.objects.filter(
        category="scheduling", detail__via="infusion session cancelled"
    ).exists()
    # The chair is free again: the same slot no longer conflicts.
    assert not scheduling.overlapping_bookings(booking.starts_at, booking.ends_at).exists()


def test_other_needs_a_reason_in_words_and_nothing_is_saved(session, nurse):
    with pytest.raises(Refused) as refused:
        cancel(session, nurse, reason="other", detail="  ")
    assert refused.value.field == "detail"
    with pytest.raises(Refused) as refused:
        cancel(session, nurse, reason="", detail="")
    assert refused.value.field == "reason"
    assert fresh(session).status == SessionStatus.SCHEDULED
    assert not SessionCancellation.objects.exists()
    assert Booking.objects.get(pk=session.booking_id).status == BookingStatus.BOOKED


def test_a_running_infusion_cannot_be_cancelled(session, nurse, nurse2):
    s = run_to(session, "running", nurse, nurse2)
    with pytest.raises(Refused, match="Stop it instead"):
        cancel(s, nurse, reason="patient_unwell")
    assert fresh(s).status == SessionStatus.RUNNING
    assert Booking.objects.get(pk=s.booking_id).status == BookingStatus.BOOKED


def test_a_drawn_bag_is_wasted_witnessed_in_the_same_step(session, nurse, nurse2):
    s = run_to(session, "prepared", nurse, nurse2)
    with pytest.raises(Refused) as refused:
        cancel(s, nurse, reason="no_escort")
    assert refused.value.field == "witness" and "100 mg" in refused.value.message
    assert fresh(s).status == SessionStatus.PREPARED
    cancellation = cancel(
        s, nurse, reason="no_escort", witness=nurse2.pk, witness_password=PASSWORD
    )
    waste = RegisterEntry.objects.get(kind=EntryKind.WASTE)
    assert cancellation.waste_entry == waste
    assert waste.amount_mg == 100 and waste.witness == nurse2
    assert "No escort home" in waste.reason
    assert fresh(s).status == SessionStatus.CANCELLED


def test_a_wrong_witness_password_cancels_nothing(session, nurse, nurse2):
    s = run_to(session, "prepared", nurse, nurse2)
    with pytest.raises(Refused) as refused:
        cancel(s, nurse, reason="no_escort", witness=nurse2.pk, witness_password="wrong")
    assert refused.value.field == "witness_password"
    assert fresh(s).status == SessionStatus.PREPARED
    assert Booking.objects.get(pk=s.booking_id).status == BookingStatus.BOOKED
    assert not RegisterEntry.objects.filter(kind=EntryKind.WASTE).exists()


def test_a_physician_cancels_before_any_draw_but_not_after(session, physician, nurse, nurse2):
    s = run_to(session, "prepared", nurse, nurse2)
    with pytest.raises(Refused, match="a nurse cancels"):
        cancel(s, physician, reason="patient_unwell")
    assert fresh(s).status == SessionStatus.PREPARED


def test_a_physician_cancels_a_scheduled_session(session, physician):
    cancel(session, physician, reason="failed_screen", detail="BP 190/110 twice")
    assert fresh(session).status == SessionStatus.CANCELLED


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.BILLING, Role.CLINIC_ADMIN])
def test_other_roles_cannot_cancel_a_session(session, users, role):
    with pytest.raises(PermissionDenied):
        cancel(session, users[role], reason="did_not_attend")
    assert fresh(session).status == SessionStatus.SCHEDULED


def test_a_stale_form_is_a_conflict(session, nurse):
    s = fresh(session)
    services.do_save_note(make_request(nurse), s.pk, s.version, NoteInput("draft", sign=False))
    with pytest.raises(services.SessionConflict):
        services.do_cancel_session(
            make_request(nurse), s.pk, s.version, CancelInput(reason="did_not_attend")
        )
    assert fresh(s).status == SessionStatus.SCHEDULED


def test_one_transaction_a_failing_booking_cancel_undoes_the_waste(
    session, nurse, nurse2, monkeypatch
):
    s = run_to(session, "prepared", nurse, nurse2)

    def broken(*args, **kwargs):
        raise scheduling.SchedulingError("database said no")

    monkeypatch.setattr(scheduling, "cancel_booking_of_session", broken)
    with pytest.raises(Refused, match="database said no"):
        cancel(s, nurse, reason="no_escort", witness=nurse2.pk, witness_password=PASSWORD)
    assert not RegisterEntry.objects.filter(kind=EntryKind.WASTE).exists()
    assert fresh(s).status == SessionStatus.PREPARED
    assert not SessionCancellation.objects.exists()


def test_the_desk_cannot_cancel_a_booking_whose_chart_is_open(session, users):
    booking = Booking.objects.get(pk=session.booking_id)
    with pytest.raises(scheduling.SchedulingError, match="chart is open"):
        scheduling.do_cancel_booking(
            make_request(users[Role.FRONT_DESK]),
            booking.pk,
            expected_version=booking.version,
            reason="patient called",
        )
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.BOOKED


def test_pages_cancel_form_chart_banner_and_board(session, nurse, nurse2, client_for):
    s = run_to(session, "prepared", nurse, nurse2)
    client = client_for(Role.NURSE)
    chart_url = reverse("infusions:session", kwargs={"session_id": s.pk})
    before = client.get(chart_url).content.decode()
    assert "Cancel the session" in before and "Predicted concentration" in before
    cancel_url = reverse("infusions:cancel", kwargs={"session_id": s.pk})
    page = client.get(cancel_url).content.decode()
    assert "100 mg of ketamine was drawn" in page and 'name="witness_password"' in page
    missing = client.post(cancel_url, {"expected_version": s.version, "reason": "other"})
    assert missing.status_code == 200 and "Say why" in missing.content.decode()
    assert fresh(s).status == SessionStatus.PREPARED
    done = client.post(
        cancel_url,
        {
            "expected_version": s.version,
            "reason": "did_not_attend",
            "detail": "",
            "witness": nurse2.pk,
            "witness_password": PASSWORD,
        },
    )
    assert done.status_code == 302
    chart = client.get(chart_url).content.decode()
    assert "Session cancelled" in chart and "Patient did not attend" in chart
    assert "Cancel the session" not in chart
    assert "Predicted concentration" not in chart  # nothing was or will be infused
    day = timezone.localtime(s.booking.starts_at).date().isoformat()
    board = client.get(reverse("scheduling:board") + f"?date={day}").content.decode()
    assert "Cancelled · chair freed" in board and "infusion session cancelled" in board


def test_a_running_session_cancel_page_says_stop_instead(session, nurse, nurse2, client_for):
    s = run_to(session, "running", nurse, nurse2)
    page = client_for(Role.PHYSICIAN).get(reverse("infusions:cancel", kwargs={"session_id": s.pk}))
    assert "Stop it instead" in page.content.decode()
    chart = client_for(Role.NURSE).get(reverse("infusions:session", kwargs={"session_id": s.pk}))
    assert "Cancel the session" not in chart.content.decode()
