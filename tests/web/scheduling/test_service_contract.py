"""The scheduling services called directly (no view), as a command or a worker would call them.

Each refusal and conflict: it raises, nothing is saved, and exactly one audit event (denied or
conflict) is written by the service and survives the rollback, naming the service, the patient
and, for a conflict, both versions. A wrong role is refused by the service itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import Action, AuditEvent, Outcome
from painclinic.web.infusions.models import InfusionSession
from painclinic.web.lib.service import Refused, RoleRefused, StaleVersion
from painclinic.web.scheduling.models import Booking, BookingStatus, Chair, ClinicClosure
from painclinic.web.scheduling.roles import ROLES
from painclinic.web.scheduling.services import (
    BookingEditConflict,
    SchedulingError,
    cancel_booking_of_session,
    do_add_closure,
    do_book_series,
    do_cancel_booking,
    do_reopen,
    do_reschedule_booking,
    do_save_chair,
    do_set_chair_active,
)
from painclinic.web.treatments.models import PlanStatus, TreatmentPlan
from tests.conftest import actor_as, make_patient
from tests.web.scheduling.factories import make_booking, make_session, next_weekday

pytestmark = pytest.mark.django_db
T = dt.time.fromisoformat
MONDAY = 0
NINE_TO_FIVE = {d: (T("09:00"), T("17:00")) for d in range(5)}


def book(desk, plan, chair, day, start="09:00"):
    return do_book_series(desk, plan.pk, chair_id=chair.pk, first_date=day, start_time=T(start))


def state() -> tuple[Any, ...]:
    """What a refused call must leave alone."""
    return (
        list(Booking.objects.order_by("pk").values_list("pk", "status", "version", "chair_id")),
        list(Chair.objects.order_by("pk").values_list("pk", "name", "active")),
        list(ClinicClosure.objects.order_by("pk").values_list("pk", "active")),
    )


def refused_once(
    call: Callable[[], Any],
    error_class: type[BaseException],
    *,
    service: str,
    outcome: str = Outcome.DENIED,
    patient: Any = None,
) -> tuple[BaseException, AuditEvent]:
    """Run ``call``: it raises ``error_class``, saves nothing and leaves exactly one audit event
    (written after the rollback, so it is in the database now)."""
    before_state, before_count = state(), AuditEvent.objects.count()
    with pytest.raises(error_class) as raised:
        call()
    assert state() == before_state
    assert AuditEvent.objects.count() == before_count + 1
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.outcome == outcome
    assert event.category == "scheduling"
    assert event.detail["service"] == service
    assert event.patient_id == (patient.pk if patient is not None else None)
    return raised.value, event


# --- refusals ---------------------------------------------------------------------------------


def test_booking_an_inactive_plan_is_refused_and_audited(desk, plan, chair):
    TreatmentPlan.objects.filter(pk=plan.pk).update(status=PlanStatus.CANCELLED)
    error, event = refused_once(
        lambda: book(desk, plan, chair, next_weekday(MONDAY)),
        SchedulingError,
        service="do_book_series",
        patient=plan.patient,
    )
    assert isinstance(error, Refused) and error.field is None
    assert "only an active plan can be booked" in error.message
    assert event.detail["refused"] == error.message
    assert event.object_type == "treatmentplan" and event.object_id == str(plan.pk)


def test_a_series_with_a_taken_chair_is_refused_naming_the_booking(users, desk, plan, chair):
    monday = next_weekday(MONDAY)
    other = make_patient("Grace", "Hopper")
    existing = make_booking(
        other, chair, users[Role.FRONT_DESK], monday + dt.timedelta(days=1), "10:00"
    )
    error, event = refused_once(
        lambda: book(desk, plan, chair, monday),
        SchedulingError,
        service="do_book_series",
        patient=plan.patient,
    )
    assert error.field == "chair" and [p.booking for p in error.problems] == [existing]
    assert event.detail["field"] == "chair"
    assert event.detail["conflicting_booking_ids"] == [existing.pk]


def test_a_series_from_a_closed_day_is_refused(desk, plan, chair):
    saturday = next_weekday(MONDAY) + dt.timedelta(days=5)
    error, event = refused_once(
        lambda: book(desk, plan, chair, saturday),
        SchedulingError,
        service="do_book_series",
        patient=plan.patient,
    )
    assert error.field == "date" and "closed" in error.message
    assert event.detail["field"] == "date"


def test_cancelling_without_a_reason_is_refused(desk, plan, chair):
    first = book(desk, plan, chair, next_weekday(MONDAY))[0]
    error, event = refused_once(
        lambda: do_cancel_booking(desk, first.pk, expected_version=1, reason=" "),
        SchedulingError,
        service="do_cancel_booking",
    )
    # Refused before the booking was read: the event names no patient.
    assert error.field == "reason" and event.detail["field"] == "reason"


def test_cancelling_a_booking_whose_chart_is_open_is_refused(desk, plan, chair):
    first = book(desk, plan, chair, next_weekday(MONDAY))[0]
    make_session(first)
    error, event = refused_once(
        lambda: do_cancel_booking(desk, first.pk, expected_version=1, reason="unwell"),
        SchedulingError,
        service="do_cancel_booking",
        patient=plan.patient,
    )
    assert "chart is open" in error.message
    assert event.object_type == "booking" and event.object_id == str(first.pk)


def test_moving_a_started_infusion_is_refused(desk, plan, chair):
    first = book(desk, plan, chair, next_weekday(MONDAY))[0]
    session = make_session(first)
    InfusionSession.objects.filter(pk=session.pk).update(status="running")
    error, _ = refused_once(
        lambda: do_reschedule_booking(
            desk,
            first.pk,
            expected_version=1,
            chair_id=chair.pk,
            day=next_weekday(MONDAY) + dt.timedelta(days=7),
            start_time=T("09:00"),
        ),
        SchedulingError,
        service="do_reschedule_booking",
        patient=plan.patient,
    )
    assert "has started" in error.message


def test_moving_into_a_closed_hour_is_refused_on_its_field(desk, plan, chair):
    first = book(desk, plan, chair, next_weekday(MONDAY))[0]
    error, event = refused_once(
        lambda: do_reschedule_booking(
            desk,
            first.pk,
            expected_version=1,
            chair_id=chair.pk,
            day=next_weekday(MONDAY) + dt.timedelta(days=7),
            start_time=T("16:00"),
        ),
        SchedulingError,
        service="do_reschedule_booking",
        patient=plan.patient,
    )
    assert error.field == "start_time" and "opening hours" in error.message
    assert event.detail["field"] == "start_time"


def test_moving_a_booking_of_a_completed_plan_is_refused(desk, plan, chair):
    first = book(desk, plan, chair, next_weekday(MONDAY))[0]
    TreatmentPlan.objects.filter(pk=plan.pk).update(status=PlanStatus.COMPLETED)
    error, _ = refused_once(
        lambda: do_reschedule_booking(
            desk,
            first.pk,
            expected_version=1,
            chair_id=chair.pk,
            day=next_weekday(MONDAY) + dt.timedelta(days=7),
            start_time=T("09:00"),
        ),
        SchedulingError,
        service="do_reschedule_booking",
        patient=plan.patient,
    )
    assert "The plan is" in error.message


def test_a_chair_name_clash_and_closing_before_opening_are_refused(users, chair):
    admin = actor_as(users[Role.CLINIC_ADMIN])
    error, event = refused_once(
        lambda: do_save_chair(admin, None, name="chair 1", location="", hours=NINE_TO_FIVE),
        SchedulingError,
        service="do_save_chair",
    )
    assert error.field == "name" and event.detail["field"] == "name"
    error, event = refused_once(
        lambda: do_save_chair(
            admin, chair.pk, name="Chair 1", location="", hours={0: (T("17:00"), T("09:00"))}
        ),
        SchedulingError,
        service="do_save_chair",
    )
    assert error.field == "closes_0"


def test_a_closure_without_a_reason_or_on_a_closed_day_is_refused(users):
    admin = actor_as(users[Role.CLINIC_ADMIN])
    day = next_weekday(MONDAY) + dt.timedelta(days=14)
    error, _ = refused_once(
        lambda: do_add_closure(admin, day=day, reason=""),
        SchedulingError,
        service="do_add_closure",
    )
    assert error.field == "reason"
    do_add_closure(admin, day=day, reason="Family Day")
    error, _ = refused_once(
        lambda: do_add_closure(admin, day=day, reason="again"),
        SchedulingError,
        service="do_add_closure",
    )
    assert error.field == "date"


# --- conflicts --------------------------------------------------------------------------------


def test_a_stale_cancellation_is_a_conflict_audited_with_both_versions(desk, plan, chair):
    first = book(desk, plan, chair, next_weekday(MONDAY))[0]
    do_cancel_booking(desk, first.pk, expected_version=1, reason="patient unwell")
    error, event = refused_once(
        lambda: do_cancel_booking(desk, first.pk, expected_version=1, reason="other reason"),
        BookingEditConflict,
        service="do_cancel_booking",
        outcome=Outcome.CONFLICT,
        patient=plan.patient,
    )
    assert isinstance(error, StaleVersion)
    assert error.current.cancel_reason == "patient unwell"
    assert (error.expected_version, error.current_version) == (1, 2)
    assert event.detail["expected_version"] == 1 and event.detail["current_version"] == 2
    assert event.object_type == "booking" and event.object_id == str(first.pk)


def test_a_stale_move_is_a_conflict_and_moves_nothing(desk, plan, chair, chair2):
    first = book(desk, plan, chair, next_weekday(MONDAY))[0]
    Booking.objects.filter(pk=first.pk).update(version=2)
    _, event = refused_once(
        lambda: do_reschedule_booking(
            desk,
            first.pk,
            expected_version=1,
            chair_id=chair2.pk,
            day=next_weekday(MONDAY) + dt.timedelta(days=7),
            start_time=T("09:00"),
        ),
        BookingEditConflict,
        service="do_reschedule_booking",
        outcome=Outcome.CONFLICT,
        patient=plan.patient,
    )
    assert (event.detail["expected_version"], event.detail["current_version"]) == (1, 2)


# --- roles ------------------------------------------------------------------------------------

WRONG_ROLE_CALLS: list[tuple[str, Role, Callable[..., Any]]] = [
    (
        "do_book_series",
        Role.NURSE,
        lambda actor, w: book(actor, w["plan"], w["chair"], next_weekday(MONDAY)),
    ),
    (
        "do_cancel_booking",
        Role.PHYSICIAN,
        lambda actor, w: do_cancel_booking(
            actor, w["booking"].pk, expected_version=1, reason="unwell"
        ),
    ),
    (
        "do_reschedule_booking",
        Role.BILLING,
        lambda actor, w: do_reschedule_booking(
            actor,
            w["booking"].pk,
            expected_version=1,
            chair_id=w["chair"].pk,
            day=next_weekday(MONDAY) + dt.timedelta(days=7),
            start_time=T("09:00"),
        ),
    ),
    (
        "do_save_chair",
        Role.FRONT_DESK,
        lambda actor, w: do_save_chair(actor, None, name="X", location="", hours=NINE_TO_FIVE),
    ),
    (
        "do_set_chair_active",
        Role.NURSE,
        lambda actor, w: do_set_chair_active(actor, w["chair"].pk, active=False),
    ),
    (
        "do_add_closure",
        Role.FRONT_DESK,
        lambda actor, w: do_add_closure(
            actor, day=next_weekday(MONDAY) + dt.timedelta(days=21), reason="Holiday"
        ),
    ),
    (
        "do_reopen",
        Role.PATIENT,
        lambda actor, w: do_reopen(actor, w["closure"].pk),
    ),
]


@pytest.mark.parametrize(
    ("service", "role", "call"), WRONG_ROLE_CALLS, ids=[s for s, _, _ in WRONG_ROLE_CALLS]
)
def test_a_wrong_role_calling_directly_is_refused_and_audited(
    users, desk, plan, chair, service, role, call
):
    assert role not in getattr(ROLES, service.removeprefix("do_"))
    world = {
        "plan": plan,
        "chair": chair,
        "booking": make_booking(
            plan.patient,
            chair,
            users[Role.FRONT_DESK],
            next_weekday(MONDAY),
            "09:00",
            plan=plan,
        ),
        "closure": ClinicClosure.objects.create(
            date=next_weekday(MONDAY) + dt.timedelta(days=28),
            reason="Civic Holiday",
            created_by=users[Role.CLINIC_ADMIN],
        ),
    }
    actor = actor_as(users[role])
    _, event = refused_once(lambda: call(actor, world), RoleRefused, service=service)
    assert event.action == Action.ACCESS_DENIED and event.actor == users[role]
    assert event.channel == "cli"


def test_the_session_cancellation_helper_is_plain_and_checks_its_roles(users, desk, plan, chair):
    """``cancel_booking_of_session`` runs inside the infusion cancellation's transaction: no
    decorator (its caller audits), but it still refuses the front desk."""
    assert not hasattr(cancel_booking_of_session, "allowed_roles")
    first = book(desk, plan, chair, next_weekday(MONDAY))[0]
    before = AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        cancel_booking_of_session(desk, first.pk, reason="unwell")
    nurse = actor_as(users[Role.NURSE])
    do_cancel_booking(desk, first.pk, expected_version=1, reason="unwell")
    with pytest.raises(SchedulingError, match="cancelled"):
        cancel_booking_of_session(nurse, first.pk, reason="unwell")
    # The desk's cancellation is the only event: the helper leaves refusals to its caller.
    assert AuditEvent.objects.count() == before + 1
    assert Booking.objects.get(pk=first.pk).status == BookingStatus.CANCELLED
