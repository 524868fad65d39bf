"""The infusion-day services called directly (no view), as a command or a worker would call them.

Each refusal and conflict: it raises, nothing is saved, and exactly one audit event (denied or
conflict) is written by the service and survives the rollback, naming the service, the session's
patient and, for a conflict, both versions and what was charted in between. A wrong role is
refused by the service itself. A dose beyond a hard limit is audited with its values. The pages
show the same refusals without auditing them a second time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from painclinic.web.accounts.models import Role, User
from painclinic.web.audit.models import Action, AuditEvent, Outcome
from painclinic.web.drugregister.models import RegisterEntry
from painclinic.web.infusions import services
from painclinic.web.infusions.inputs import (
    AcknowledgeInput,
    AdverseEventInput,
    AmendmentInput,
    CancelInput,
    DischargeInput,
    NoteInput,
    ObservationInput,
    PauseInput,
    RateChangeInput,
    ResumeInput,
    StartInput,
    StopInput,
    WasteRemainderInput,
)
from painclinic.web.infusions.models import (
    AdverseEvent,
    Alert,
    BagPreparation,
    Discharge,
    DoubleCheck,
    InfusionSession,
    NoteAmendment,
    Observation,
    PreInfusionChecklist,
    RateSegment,
    SessionCancellation,
    SessionEvent,
    SessionNote,
)
from painclinic.web.infusions.roles import ROLES
from painclinic.web.infusions.services import NoteLocked, SessionConflict
from painclinic.web.lib.service import HardLimitRefused, Refused, RoleRefused, StaleVersion
from painclinic.web.patients.models import WeightMeasurement
from painclinic.web.scheduling.models import Booking, BookingStatus
from painclinic.web.treatments.models import PlanStatus
from tests.conftest import PASSWORD, actor_as
from tests.web.infusions.conftest import (
    check_input,
    checklist_input,
    fresh,
    make_booking,
    make_plan,
    prep_input,
    run_to,
    waste_remainder,
)

pytestmark = pytest.mark.django_db

ALDRETE_OK = dict.fromkeys(
    ("activity", "respiration", "circulation", "consciousness", "oxygen_saturation"), 2
)
PADSS_OK = {"activity": 2, "nausea_vomiting": 2, "pain": 2, "bleeding": 2}
NO_SUCH = 999_999


def state() -> tuple[Any, ...]:
    """What a refused call must leave alone: every infusion-day row, the register, the weights,
    the bookings, and the audit events of changes made."""
    return (
        list(InfusionSession.objects.order_by("pk").values_list("pk", "status", "version")),
        list(Booking.objects.order_by("pk").values_list("pk", "status", "version")),
        list(Alert.objects.order_by("pk").values_list("pk", "acknowledged_at")),
        list(AdverseEvent.objects.order_by("pk").values_list("pk", "reported_at")),
        list(SessionNote.objects.order_by("pk").values_list("pk", "text", "signed_at")),
        list(RateSegment.objects.order_by("pk").values_list("pk", "ended_at")),
        list(BagPreparation.objects.order_by("pk").values_list("pk", "status")),
        *(
            model.objects.count()
            for model in (
                PreInfusionChecklist,
                DoubleCheck,
                Observation,
                Discharge,
                NoteAmendment,
                SessionCancellation,
                SessionEvent,
                RegisterEntry,
                WeightMeasurement,
            )
        ),
        AuditEvent.objects.filter(outcome=Outcome.SUCCESS).count(),
    )


def refused_once(
    call: Callable[[], Any],
    error_class: type[BaseException],
    *,
    service: str,
    outcome: str = Outcome.DENIED,
    patient_id: int | None = None,
) -> tuple[Any, AuditEvent]:
    """Run ``call``: it raises ``error_class``, saves nothing and leaves exactly one audit event
    (written after the rollback, so it is in the database now)."""
    before_state, before_count = state(), AuditEvent.objects.count()
    with pytest.raises(error_class) as raised:
        call()
    assert state() == before_state
    assert AuditEvent.objects.count() == before_count + 1
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.outcome == outcome
    assert event.category == "infusion"
    assert event.detail["service"] == service
    assert event.patient_id == patient_id
    return raised.value, event


# --- the stages a session is taken to before a refused call ------------------------------------


@dataclass
class Ctx:
    s: InfusionSession
    nurse: User
    nurse2: User
    physician: User
    admin: User

    def refresh(self) -> InfusionSession:
        self.s = fresh(self.s)
        return self.s

    @property
    def start(self) -> dt.datetime:
        return RateSegment.objects.filter(session=self.s).order_by("started_at").first().started_at


def vitals(at: dt.datetime, **overrides: Any) -> ObservationInput:
    values: dict[str, Any] = {
        "observed_at": at,
        "systolic_bp_mmhg": 128,
        "diastolic_bp_mmhg": 78,
        "heart_rate_bpm": 74,
        "respiratory_rate_per_min": 14,
        "spo2_percent": 97,
        "rass": 0,
    }
    values.update(overrides)
    return ObservationInput(**values)


def to_stage(ctx: Ctx, stage: str) -> None:
    """Take the fixture session to ``stage``."""
    nurse, nurse2 = ctx.nurse, ctx.nurse2
    if stage == "scheduled":
        return
    if stage in ("checklist", "prepared", "running"):
        run_to(ctx.s, stage, nurse, nurse2)
        ctx.refresh()
        return
    run_to(ctx.s, "running", nurse, nurse2)
    s = ctx.refresh()
    start = ctx.start
    if stage == "alerting":
        at = start + dt.timedelta(minutes=15)
        services.do_record_observation(
            actor_as(nurse),
            s.pk,
            s.version,
            vitals(at, systolic_bp_mmhg=190, diastolic_bp_mmhg=100),
        )
        ctx.refresh()
        return
    if stage == "paused":
        services.do_pause(
            actor_as(nurse), s.pk, s.version, PauseInput(start + dt.timedelta(minutes=20))
        )
        ctx.refresh()
        return
    services.do_stop(actor_as(nurse), s.pk, s.version, StopInput(start + dt.timedelta(minutes=50)))
    s = ctx.refresh()
    if stage == "stopped":
        return
    if stage == "wasted":
        waste_remainder(s, nurse, nurse2)
        ctx.refresh()
        return
    assert stage == "signed", stage
    waste_remainder(s, nurse, nurse2)
    s = ctx.refresh()
    services.do_save_note(actor_as(ctx.physician), s.pk, s.version, NoteInput("Summary", True))
    ctx.refresh()


@pytest.fixture
def ctx(session, nurse, nurse2, physician, users) -> Ctx:
    return Ctx(session, nurse, nurse2, physician, users[Role.CLINIC_ADMIN])


def serious_event(ctx: Ctx) -> AdverseEvent:
    s = ctx.refresh()
    event = services.do_record_adverse_event(
        actor_as(ctx.nurse),
        s.pk,
        s.version,
        AdverseEventInput(
            occurred_at=timezone.now() - dt.timedelta(minutes=5),
            event_type="hypotension",
            severity="severe",
            action_taken="Paused, fluids",
            outcome="resolved",
        ),
    )
    ctx.refresh()
    return event


# --- every refusal, called directly ------------------------------------------------------------

# Each case: (id, stage, service, arrange) where ``arrange(ctx)`` does any further set-up and
# returns the refused call; then the expected exception class, message fragment and field.
Arrange = Callable[[Ctx], Callable[[], Any]]


def _open_booking(
    status: str = PlanStatus.ACTIVE,
    cancel: bool = False,
    days: int = 0,
    physician_reason: str | None = None,
) -> Arrange:
    def arrange(ctx: Ctx) -> Callable[[], Any]:
        plan = make_plan(ctx.s.patient, ctx.physician, status=status)
        starts = timezone.now().replace(second=0, microsecond=0) + dt.timedelta(days=days)
        booking = make_booking(plan, ctx.nurse, starts_at=starts - dt.timedelta(hours=2))
        if cancel:
            booking.status = BookingStatus.CANCELLED
            booking.save()
        if physician_reason is not None:
            return lambda: services.do_open_session_off_day(
                actor_as(ctx.physician), booking.pk, physician_reason
            )
        return lambda: services.do_open_session(actor_as(ctx.nurse), booking.pk)

    return arrange


def _call(function: Callable[..., Any], who: str, *args: Any) -> Arrange:
    """``function(actor, session id, current version, *args)``; an arg that is a callable of the
    context is evaluated after the stage is reached."""

    def arrange(ctx: Ctx) -> Callable[[], Any]:
        s = ctx.refresh()
        values = [a(ctx) if callable(a) and not isinstance(a, type) else a for a in args]
        user = getattr(ctx, who)
        return lambda: function(actor_as(user), s.pk, s.version, *values)

    return arrange


def _ack_twice(ctx: Ctx) -> Callable[[], Any]:
    s = ctx.refresh()
    alert = Alert.objects.get(session=s)
    ack = AcknowledgeInput(response="no_change", action_taken="rechecked: 150/90")
    services.do_acknowledge_alert(actor_as(ctx.nurse), s.pk, s.version, alert.pk, ack)
    s = ctx.refresh()
    return lambda: services.do_acknowledge_alert(
        actor_as(ctx.nurse), s.pk, s.version, alert.pk, ack
    )


def _ack(**values: Any) -> Arrange:
    def arrange(ctx: Ctx) -> Callable[[], Any]:
        s = ctx.refresh()
        alert = Alert.objects.get(session=s)
        data = AcknowledgeInput(**{"response": "reduce_rate", "action_taken": "x", **values})
        return lambda: services.do_acknowledge_alert(
            actor_as(ctx.nurse), s.pk, s.version, alert.pk, data
        )

    return arrange


def _sae(reference: str = "OHP-1", *, serious: bool = True, report_first: bool = False) -> Arrange:
    def arrange(ctx: Ctx) -> Callable[[], Any]:
        event = serious_event(ctx)
        if not serious:
            AdverseEvent.objects.filter(pk=event.pk).update(serious=False, report_due_at=None)
        if report_first:
            services.do_mark_adverse_event_reported(actor_as(ctx.physician), event.pk, "OHP-0")
        return lambda: services.do_mark_adverse_event_reported(
            actor_as(ctx.admin), event.pk, reference
        )

    return arrange


def _sae_no_such(ctx: Ctx) -> Callable[[], Any]:
    return lambda: services.do_mark_adverse_event_reported(actor_as(ctx.physician), NO_SUCH, "x")


def _no_such_session(ctx: Ctx) -> Callable[[], Any]:
    return lambda: services.do_start(actor_as(ctx.nurse), NO_SUCH, 1, StartInput(timezone.now()))


def _now(minutes: float = 0) -> Callable[[Ctx], dt.datetime]:
    return lambda ctx: timezone.now() + dt.timedelta(minutes=minutes)


def _rate(mg_per_h: str) -> Callable[[Ctx], RateChangeInput]:
    return lambda ctx: RateChangeInput(timezone.now(), Decimal(mg_per_h), "mg/h")


def _after_start(minutes: float) -> Callable[[Ctx], dt.datetime]:
    return lambda ctx: ctx.start + dt.timedelta(minutes=minutes)


S = services
CASES: list[tuple[str, str, str, Arrange, type[BaseException], str, str | None]] = [
    # id, stage, service, arrange, error, message fragment, field
    ("open: no such booking", "scheduled", "do_open_session",
     lambda ctx: lambda: S.do_open_session(actor_as(ctx.nurse), NO_SUCH),
     Refused, "No such booking", None),
    ("open: booking cancelled", "scheduled", "do_open_session",
     _open_booking(cancel=True), Refused, "The booking is cancelled", None),
    ("open: plan awaits co-signature", "scheduled", "do_open_session",
     _open_booking(PlanStatus.AWAITING_COSIGN), Refused, "co-signature", None),
    ("open: tomorrow's booking", "scheduled", "do_open_session",
     _open_booking(days=1), Refused, "a chart is opened on its booking's day", None),
    ("open: another infusion running", "running", "do_open_session",
     _open_booking(), Refused, "One infusion at a time", None),
    ("open on another day: no reason", "scheduled", "do_open_session_off_day",
     _open_booking(days=1, physician_reason=" "), Refused, "Give the reason", "reason"),
    ("open on another day: it is today", "scheduled", "do_open_session_off_day",
     _open_booking(physician_reason="x"), Refused, "This booking is today", None),
    ("no such session", "scheduled", "do_start",
     _no_such_session, Refused, "No such infusion session", None),
    ("checklist: twice", "checklist", "do_complete_checklist",
     _call(S.do_complete_checklist, "nurse", checklist_input()),
     Refused, "Cannot complete the checklist", None),
    ("checklist: weight off the plan", "scheduled", "do_complete_checklist",
     _call(S.do_complete_checklist, "nurse", checklist_input(weight_kg=Decimal("89.0"))),
     Refused, "re-plan", "weight_kg"),
    ("checklist: no escort", "scheduled", "do_complete_checklist",
     _call(S.do_complete_checklist, "nurse", checklist_input(escort_name=" ")),
     Refused, "adult who will take", "escort_name"),
    ("prepare: before the checklist", "scheduled", "do_prepare_bag",
     _call(S.do_prepare_bag, "nurse", prep_input()), Refused, "Cannot prepare a bag", None),
    ("prepare: pump rate typed wrong", "checklist", "do_prepare_bag",
     _call(S.do_prepare_bag, "nurse", prep_input(pump_rate_entered_ml_per_h=Decimal("2.5"))),
     Refused, "Check the pump", "pump_rate_entered_ml_per_h"),
    ("prepare: the register refuses the lot", "checklist", "do_prepare_bag",
     _call(S.do_prepare_bag, "nurse", prep_input(vial_lot="NOPE")),
     Refused, "Drug register", "vial_lot"),
    ("prepare: beyond a hard limit", "checklist", "do_prepare_bag",
     _call(S.do_prepare_bag, "nurse", prep_input(dose_value=Decimal("250"))),
     HardLimitRefused, "hard limit", "dose_value"),
    ("double check: no bag", "checklist", "do_double_check",
     _call(S.do_double_check, "nurse2", check_input()), Refused, "No bag awaits", None),
    ("start: before the double check", "checklist", "do_start",
     _call(S.do_start, "nurse", lambda ctx: StartInput(_now()(ctx))),
     Refused, "Cannot start", None),
    ("start: in the future", "prepared", "do_start",
     _call(S.do_start, "nurse", lambda ctx: StartInput(_now(10)(ctx))),
     Refused, "future", "at"),
    ("start: before the bag's double check", "prepared", "do_start",
     _call(S.do_start, "nurse", lambda ctx: StartInput(_now(-30)(ctx))),
     Refused, "before the bag's double check", "at"),
    ("pause: not running", "prepared", "do_pause",
     _call(S.do_pause, "nurse", lambda ctx: PauseInput(_now()(ctx))),
     Refused, "Cannot pause", None),
    ("pause: before the start", "running", "do_pause",
     _call(S.do_pause, "nurse", lambda ctx: PauseInput(_after_start(-1)(ctx))),
     Refused, "before the previous", "at"),
    ("resume: not paused", "running", "do_resume",
     _call(S.do_resume, "nurse", lambda ctx: ResumeInput(_now()(ctx))),
     Refused, "Cannot resume", None),
    ("rate: not running", "paused", "do_change_rate",
     _call(S.do_change_rate, "nurse", _rate("10")),
     Refused, "Cannot change the rate", None),
    ("rate: soft limit without a reason", "running", "do_change_rate",
     _call(S.do_change_rate, "nurse", _rate("30")),
     Refused, "soft limit", "limit_reason"),
    ("rate: beyond a hard limit", "running", "do_change_rate",
     _call(S.do_change_rate, "nurse", _rate("50")),
     HardLimitRefused, "hard limit", "dose_value"),
    ("rate: at the current rate's start", "running", "do_change_rate",
     _call(
         S.do_change_rate,
         "nurse",
         lambda ctx: RateChangeInput(ctx.start, Decimal("20"), "mg/h"),
     ),
     Refused, "must be after the current rate's start", "at"),
    ("stop: alert not acknowledged", "alerting", "do_stop",
     _call(S.do_stop, "nurse", lambda ctx: StopInput(_after_start(30)(ctx))),
     Refused, "not acknowledged", None),
    ("observation: blood pressure of 0", "running", "do_record_observation",
     _call(S.do_record_observation, "nurse", lambda ctx: vitals(_now(-2)(ctx), systolic_bp_mmhg=0)),
     Refused, "not possible", "systolic_bp_mmhg"),
    ("observation: before the start", "running", "do_record_observation",
     _call(S.do_record_observation, "nurse", lambda ctx: vitals(_after_start(-10)(ctx))),
     Refused, "infusion start", "observed_at"),
    ("observation: before the infusion", "checklist", "do_record_observation",
     _call(S.do_record_observation, "nurse", lambda ctx: vitals(_now(-2)(ctx))),
     Refused, "Cannot record an observation", None),
    ("acknowledge: no such alert", "alerting", "do_acknowledge_alert",
     lambda ctx: lambda: S.do_acknowledge_alert(
         actor_as(ctx.nurse), ctx.s.pk, ctx.s.version, NO_SUCH,
         AcknowledgeInput(response="no_change", action_taken="x"),
     ),
     Refused, "No such alert", None),
    ("acknowledge: twice", "alerting", "do_acknowledge_alert",
     _ack_twice, Refused, "already acknowledged", None),
    ("acknowledge: a reduction without a dose", "alerting", "do_acknowledge_alert",
     _ack(), Refused, "Enter the new dose", "dose_value"),
    ("acknowledge: a reduction that is not lower", "alerting", "do_acknowledge_alert",
     _ack(dose_value=Decimal("25"), dose_unit="mg/h"), Refused, "not lower", "dose_value"),
    ("acknowledge: no action said", "alerting", "do_acknowledge_alert",
     _ack(response="no_change", action_taken="  "), Refused, "Say what you did", "action_taken"),
    ("adverse event: before the checklist", "scheduled", "do_record_adverse_event",
     _call(
         S.do_record_adverse_event,
         "nurse",
         AdverseEventInput(timezone.now(), "other", "mild", "x", "resolved"),
     ),
     Refused, "Cannot record an adverse event", None),
    ("adverse event: in the future", "running", "do_record_adverse_event",
     _call(
         S.do_record_adverse_event,
         "nurse",
         lambda ctx: AdverseEventInput(_now(60)(ctx), "other", "mild", "x", "resolved"),
     ),
     Refused, "future", "occurred_at"),
    ("discharge: still running", "running", "do_discharge",
     _call(
         S.do_discharge,
         "nurse",
         lambda ctx: DischargeInput.with_aldrete(
             _now()(ctx), ALDRETE_OK, escort_name="Sam", escort_confirmed=True
         ),
     ),
     Refused, "Cannot discharge", None),
    ("discharge: Aldrete 8", "stopped", "do_discharge",
     _call(
         S.do_discharge,
         "nurse",
         lambda ctx: DischargeInput.with_aldrete(
             _after_start(55)(ctx),
             {**ALDRETE_OK, "activity": 1, "consciousness": 1},
             escort_name="Sam",
             escort_confirmed=True,
             padss=PADSS_OK,
         ),
     ),
     Refused, "Modified Aldrete 9 or more of 10 (now 8)", "activity"),
    ("discharge: no escort", "stopped", "do_discharge",
     _call(
         S.do_discharge,
         "nurse",
         lambda ctx: DischargeInput.with_aldrete(_after_start(55)(ctx), ALDRETE_OK, padss=PADSS_OK),
     ),
     Refused, "An adult escort is here", "escort_confirmed"),
    ("discharge: PADSS not scored", "stopped", "do_discharge",
     _call(
         S.do_discharge,
         "nurse",
         lambda ctx: DischargeInput.with_aldrete(
             _after_start(55)(ctx), ALDRETE_OK, escort_name="Sam", escort_confirmed=True
         ),
     ),
     Refused, "Score every PADSS item", "padss_activity"),
    ("discharge: before the minimum recovery time", "stopped", "do_discharge",
     _call(
         S.do_discharge,
         "nurse",
         lambda ctx: DischargeInput.with_aldrete(
             _after_start(55)(ctx), ALDRETE_OK, escort_name="Sam", escort_confirmed=True,
             padss=PADSS_OK,
         ),
     ),
     Refused, "At least 30 min of recovery after the infusion stopped (5 min so far)", "__all__"),
    ("note: empty", "stopped", "do_save_note",
     _call(S.do_save_note, "physician", NoteInput("  ")), Refused, "The note is empty", "text"),
    ("note: signed with drug left to waste", "stopped", "do_save_note",
     _call(S.do_save_note, "physician", NoteInput("Summary", sign=True)),
     Refused, "not wasted", None),
    ("note: signed and locked", "signed", "do_save_note",
     _call(S.do_save_note, "nurse", NoteInput("Changed")), NoteLocked, "signed and locked", None),
    ("amend: a draft", "stopped", "do_amend_note",
     _call(S.do_amend_note, "physician", AmendmentInput("x", "y")),
     Refused, "Only a signed note", None),
    ("amend: no reason", "signed", "do_amend_note",
     _call(S.do_amend_note, "physician", AmendmentInput("Dose was 25 mg/h", " ")),
     Refused, "reason for the amendment", "reason"),
    ("waste: still running", "running", "do_waste_remainder",
     _call(S.do_waste_remainder, "nurse", lambda ctx: WasteRemainderInput(ctx.nurse2, PASSWORD)),
     Refused, "Cannot waste the remainder", None),
    ("waste: nothing left", "wasted", "do_waste_remainder",
     _call(S.do_waste_remainder, "nurse", lambda ctx: WasteRemainderInput(ctx.nurse2, PASSWORD)),
     Refused, "Nothing is left", None),
    ("waste: own witness", "stopped", "do_waste_remainder",
     _call(S.do_waste_remainder, "nurse", lambda ctx: WasteRemainderInput(ctx.nurse, PASSWORD)),
     Refused, "different person", "witness"),
    ("cancel: no reason", "scheduled", "do_cancel_session",
     _call(S.do_cancel_session, "nurse", CancelInput("")),
     Refused, "Choose the reason", "reason"),
    ("cancel: other without a word", "scheduled", "do_cancel_session",
     _call(S.do_cancel_session, "nurse", CancelInput("other")),
     Refused, "Say why", "detail"),
    ("cancel: already started", "running", "do_cancel_session",
     _call(S.do_cancel_session, "nurse", CancelInput("patient_unwell")),
     Refused, "Stop it instead", None),
    ("cancel: a physician with drug drawn", "prepared", "do_cancel_session",
     _call(S.do_cancel_session, "physician", CancelInput("patient_unwell")),
     Refused, "a nurse cancels", None),
    ("cancel: drug drawn, no witness", "prepared", "do_cancel_session",
     _call(S.do_cancel_session, "nurse", CancelInput("patient_unwell")),
     Refused, "must be wasted with a witness", "witness"),
    ("report: no such event", "scheduled", "do_mark_adverse_event_reported",
     _sae_no_such, Refused, "No such adverse event", None),
    ("report: no reference", "running", "do_mark_adverse_event_reported",
     _sae(" "), Refused, "Give the report number", "reference"),
    ("report: not serious", "running", "do_mark_adverse_event_reported",
     _sae(serious=False), Refused, "Only a serious adverse event", None),
    ("report: already reported", "running", "do_mark_adverse_event_reported",
     _sae("OHP-2", report_first=True), Refused, "cannot be changed", None),
]  # fmt: skip

# Refusals about no record at all name no patient.
NO_PATIENT = {"open: no such booking", "no such session", "report: no such event"}


@pytest.mark.parametrize(
    ("stage", "service", "arrange", "error", "message", "field"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_every_refusal_is_audited_once_after_the_rollback(
    ctx, request, stage, service, arrange, error, message, field
):
    to_stage(ctx, stage)
    call = arrange(ctx)
    patient = None if request.node.callspec.id in NO_PATIENT else ctx.s.patient_id
    refusal, event = refused_once(call, error, service=service, patient_id=patient)
    assert message in refusal.message
    assert refusal.field == field
    assert event.action != Action.ACCESS_DENIED
    assert event.detail["refused"] == refusal.message
    assert event.detail["field"] == field


def test_the_refusal_of_a_session_names_the_session(ctx):
    to_stage(ctx, "prepared")
    s = ctx.s
    _, event = refused_once(
        lambda: services.do_pause(actor_as(ctx.nurse), s.pk, s.version, PauseInput(timezone.now())),
        Refused,
        service="do_pause",
        patient_id=s.patient_id,
    )
    assert (event.object_type, event.object_id) == ("infusionsession", str(s.pk))


def test_a_wrong_witness_password_is_audited_with_the_witness_for_the_lock_out(ctx):
    to_stage(ctx, "stopped")
    s = ctx.s
    refusal, event = refused_once(
        lambda: services.do_waste_remainder(
            actor_as(ctx.nurse), s.pk, s.version, WasteRemainderInput(ctx.nurse2.pk, "wrong")
        ),
        Refused,
        service="do_waste_remainder",
        patient_id=s.patient_id,
    )
    assert refusal.field == "witness_password"
    assert event.detail["field"] == "witness_password"
    assert event.detail["witness_id"] == ctx.nurse2.pk


# --- hard limits -------------------------------------------------------------------------------


def _assert_hard_limit(event: AuditEvent, rate_mg_per_h: str) -> None:
    detail = event.detail
    assert detail["drug"] == "ketamine"
    assert detail["rate_mg_per_h"] == rate_mg_per_h
    assert detail["limit_unit"] and detail["limit"] is not None and detail["limit_quantity"]
    assert detail["hard_limits"], detail
    broken = detail["hard_limits"][0]
    assert broken["quantity"] == detail["limit_quantity"]
    assert broken["limit"] == detail["limit"] and broken["unit"] == detail["limit_unit"]
    assert broken["value"] > broken["limit"]  # every ketamine hard limit is an upper bound


def test_a_rate_beyond_a_hard_limit_is_audited_with_its_values(ctx):
    to_stage(ctx, "running")
    s = ctx.s
    refusal, event = refused_once(
        lambda: services.do_change_rate(
            actor_as(ctx.nurse),
            s.pk,
            s.version,
            RateChangeInput(timezone.now(), Decimal("50"), "mg/h", "physician order"),
        ),
        HardLimitRefused,
        service="do_change_rate",
        patient_id=s.patient_id,
    )
    assert refusal.detail["drug"] == "ketamine"
    _assert_hard_limit(event, "50.0000")
    assert event.detail["dose"] == "50 mg/h"


def test_a_bag_beyond_a_hard_limit_is_audited_with_its_values(ctx):
    to_stage(ctx, "checklist")
    s = ctx.s
    _, event = refused_once(
        lambda: services.do_prepare_bag(
            actor_as(ctx.nurse), s.pk, s.version, prep_input(dose_value=Decimal("250"))
        ),
        HardLimitRefused,
        service="do_prepare_bag",
        patient_id=s.patient_id,
    )
    _assert_hard_limit(event, "250.0000")
    assert not BagPreparation.objects.exists()
    assert not RegisterEntry.objects.filter(kind="draw").exists()


def test_a_hard_limit_refused_on_the_page_is_audited_once(ctx, client_for):
    to_stage(ctx, "checklist")
    s = ctx.s
    entry = {k: str(v) for k, v in vars(prep_input(dose_value=Decimal("250"))).items()}
    before = AuditEvent.objects.filter(outcome=Outcome.DENIED).count()
    response = client_for(Role.NURSE).post(
        f"/infusions/{s.pk}/prepare/", {**entry, "expected_version": s.version}
    )
    assert response.status_code == 200
    assert "hard limit" in response.context["form"].errors["dose_value"][0]
    assert AuditEvent.objects.filter(outcome=Outcome.DENIED).count() == before + 1
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.detail["service"] == "do_prepare_bag" and event.channel == "web"
    _assert_hard_limit(event, "250.0000")


# --- conflicts ---------------------------------------------------------------------------------

# (service, stage, the input at that stage); the call uses the version before the stage's last
# charted event, so the conflict names that event.
CONFLICTS: list[tuple[str, str, Callable[[Ctx], Callable[[int], Any]]]] = [
    ("do_complete_checklist", "checklist",
     lambda c: lambda v: S.do_complete_checklist(actor_as(c.nurse), c.s.pk, v, checklist_input())),
    ("do_prepare_bag", "checklist",
     lambda c: lambda v: S.do_prepare_bag(actor_as(c.nurse), c.s.pk, v, prep_input())),
    ("do_double_check", "prepared",
     lambda c: lambda v: S.do_double_check(actor_as(c.nurse2), c.s.pk, v, check_input())),
    ("do_start", "prepared",
     lambda c: lambda v: S.do_start(actor_as(c.nurse), c.s.pk, v, StartInput(timezone.now()))),
    ("do_pause", "running",
     lambda c: lambda v: S.do_pause(actor_as(c.nurse), c.s.pk, v, PauseInput(timezone.now()))),
    ("do_resume", "paused",
     lambda c: lambda v: S.do_resume(actor_as(c.nurse), c.s.pk, v, ResumeInput(timezone.now()))),
    ("do_change_rate", "running",
     lambda c: lambda v: S.do_change_rate(
         actor_as(c.nurse), c.s.pk, v, RateChangeInput(timezone.now(), Decimal("20"), "mg/h")
     )),
    ("do_stop", "running",
     lambda c: lambda v: S.do_stop(actor_as(c.nurse), c.s.pk, v, StopInput(timezone.now()))),
    ("do_record_observation", "running",
     lambda c: lambda v: S.do_record_observation(
         actor_as(c.nurse), c.s.pk, v, vitals(timezone.now() - dt.timedelta(minutes=1))
     )),
    ("do_acknowledge_alert", "alerting",
     lambda c: lambda v: S.do_acknowledge_alert(
         actor_as(c.nurse), c.s.pk, v, Alert.objects.get(session=c.s).pk,
         AcknowledgeInput(response="no_change", action_taken="rechecked"),
     )),
    ("do_record_adverse_event", "running",
     lambda c: lambda v: S.do_record_adverse_event(
         actor_as(c.nurse), c.s.pk, v,
         AdverseEventInput(timezone.now(), "other", "mild", "x", "resolved"),
     )),
    ("do_discharge", "stopped",
     lambda c: lambda v: S.do_discharge(
         actor_as(c.nurse), c.s.pk, v,
         DischargeInput.with_aldrete(
             timezone.now(), ALDRETE_OK, escort_name="Sam", escort_confirmed=True
         ),
     )),
    ("do_save_note", "stopped",
     lambda c: lambda v: S.do_save_note(actor_as(c.physician), c.s.pk, v, NoteInput("Draft"))),
    ("do_amend_note", "signed",
     lambda c: lambda v: S.do_amend_note(
         actor_as(c.physician), c.s.pk, v, AmendmentInput("Correction", "typo")
     )),
    ("do_waste_remainder", "stopped",
     lambda c: lambda v: S.do_waste_remainder(
         actor_as(c.nurse), c.s.pk, v, WasteRemainderInput(c.nurse2, PASSWORD)
     )),
    ("do_cancel_session", "checklist",
     lambda c: lambda v: S.do_cancel_session(
         actor_as(c.nurse), c.s.pk, v, CancelInput("patient_unwell")
     )),
]  # fmt: skip


@pytest.mark.parametrize(
    ("service", "stage", "build"), CONFLICTS, ids=[c[0].removeprefix("do_") for c in CONFLICTS]
)
def test_every_stale_version_is_a_conflict_audited_once(ctx, service, stage, build):
    to_stage(ctx, stage)
    s = ctx.s
    stale = s.version - 1
    last = SessionEvent.objects.get(session=s, version=s.version)
    conflict, event = refused_once(
        lambda: build(ctx)(stale),
        SessionConflict,
        service=service,
        outcome=Outcome.CONFLICT,
        patient_id=s.patient_id,
    )
    assert isinstance(conflict, StaleVersion)
    assert conflict.session.pk == s.pk and conflict.changes == [last]
    assert event.detail["expected_version"] == stale
    assert event.detail["current_version"] == s.version
    assert event.detail["changes"] == [last.kind]
    assert (event.object_type, event.object_id) == ("infusionsession", str(s.pk))


def test_a_stale_page_shows_the_conflict_and_audits_it_once(ctx, client_for):
    to_stage(ctx, "running")
    s = ctx.s
    before = AuditEvent.objects.filter(outcome=Outcome.CONFLICT).count()
    at = timezone.localtime(timezone.now()).strftime("%Y-%m-%dT%H:%M")
    response = client_for(Role.NURSE).post(
        f"/infusions/{s.pk}/pause/", {"expected_version": s.version - 1, "at": at}
    )
    assert response.status_code == 409
    assert AuditEvent.objects.filter(outcome=Outcome.CONFLICT).count() == before + 1
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.detail["service"] == "do_pause" and event.channel == "web"


# --- roles -------------------------------------------------------------------------------------

ROLE_CALLS: dict[str, Callable[[Ctx, User], Any]] = {
    "open_session": lambda c, u: S.do_open_session(actor_as(u), c.s.booking_id),
    "open_session_off_day": lambda c, u: S.do_open_session_off_day(
        actor_as(u), c.s.booking_id, "reason"
    ),
    "complete_checklist": lambda c, u: S.do_complete_checklist(
        actor_as(u), c.s.pk, c.s.version, checklist_input()
    ),
    "prepare_bag": lambda c, u: S.do_prepare_bag(actor_as(u), c.s.pk, c.s.version, prep_input()),
    "double_check": lambda c, u: S.do_double_check(actor_as(u), c.s.pk, c.s.version, check_input()),
    "start": lambda c, u: S.do_start(actor_as(u), c.s.pk, c.s.version, StartInput(timezone.now())),
    "pause": lambda c, u: S.do_pause(actor_as(u), c.s.pk, c.s.version, PauseInput(timezone.now())),
    "resume": lambda c, u: S.do_resume(
        actor_as(u), c.s.pk, c.s.version, ResumeInput(timezone.now())
    ),
    "change_rate": lambda c, u: S.do_change_rate(
        actor_as(u), c.s.pk, c.s.version, RateChangeInput(timezone.now(), Decimal("20"), "mg/h")
    ),
    "stop": lambda c, u: S.do_stop(actor_as(u), c.s.pk, c.s.version, StopInput(timezone.now())),
    "record_observation": lambda c, u: S.do_record_observation(
        actor_as(u), c.s.pk, c.s.version, vitals(timezone.now())
    ),
    "acknowledge_alert": lambda c, u: S.do_acknowledge_alert(
        actor_as(u), c.s.pk, c.s.version, 1, AcknowledgeInput("no_change", "x")
    ),
    "record_adverse_event": lambda c, u: S.do_record_adverse_event(
        actor_as(u),
        c.s.pk,
        c.s.version,
        AdverseEventInput(timezone.now(), "other", "mild", "x", "resolved"),
    ),
    "discharge": lambda c, u: S.do_discharge(
        actor_as(u),
        c.s.pk,
        c.s.version,
        DischargeInput.with_aldrete(timezone.now(), ALDRETE_OK, escort_confirmed=True),
    ),
    "save_note": lambda c, u: S.do_save_note(actor_as(u), c.s.pk, c.s.version, NoteInput("x")),
    "amend_note": lambda c, u: S.do_amend_note(
        actor_as(u), c.s.pk, c.s.version, AmendmentInput("x", "y")
    ),
    "waste_remainder": lambda c, u: S.do_waste_remainder(
        actor_as(u), c.s.pk, c.s.version, WasteRemainderInput(c.nurse2, PASSWORD)
    ),
    "cancel_session": lambda c, u: S.do_cancel_session(
        actor_as(u), c.s.pk, c.s.version, CancelInput("patient_unwell")
    ),
    "mark_adverse_event_reported": lambda c, u: S.do_mark_adverse_event_reported(
        actor_as(u), 1, "OHP-1"
    ),
}
ROLE_CASES = [
    (name, role)
    for name in ROLE_CALLS
    for role in (
        Role.BILLING,
        Role.FRONT_DESK,
        Role.PATIENT,
        Role.CLINIC_ADMIN,
        Role.PHYSICIAN,
        Role.NURSE,
    )
    if role not in getattr(ROLES, name)
]


def test_every_service_has_a_role_rule_and_the_views_read_it():
    from painclinic.web.accounts.permissions import ROLES_ATTRIBUTE
    from painclinic.web.infusions.urls import urlpatterns

    names = {
        name.removeprefix("do_")
        for name in dir(services)
        if name.startswith("do_") and getattr(services, name).__module__ == services.__name__
    }
    assert names == set(ROLE_CALLS)
    for name in names:
        assert getattr(services, f"do_{name}").allowed_roles == getattr(ROLES, name)
    views = {p.name: getattr(p.callback, ROLES_ATTRIBUTE) for p in urlpatterns}
    assert views["open"] == ROLES.open_session and views["waste"] == ROLES.waste_remainder
    assert views["rate_change"] == ROLES.change_rate and views["session"] == ROLES.view_chart
    assert views["mark_reported"] == ROLES.mark_adverse_event_reported


@pytest.mark.parametrize(("name", "role"), ROLE_CASES, ids=[f"{n}-{r}" for n, r in ROLE_CASES])
def test_a_wrong_role_is_refused_by_the_service_and_audited(ctx, users, name, role):
    before_state, before = state(), AuditEvent.objects.count()
    with pytest.raises(RoleRefused):
        ROLE_CALLS[name](ctx, users[role])
    assert state() == before_state
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.outcome == Outcome.DENIED and event.action == Action.ACCESS_DENIED
    assert event.detail["service"] == f"do_{name}" and event.actor_role == role


def test_only_a_nurse_wastes_a_physician_is_refused_before_anything(ctx):
    """The register's rule (only a nurse records controlled-drug waste) is the service's."""
    to_stage(ctx, "stopped")
    s = ctx.s
    with pytest.raises(PermissionDenied):
        services.do_waste_remainder(
            actor_as(ctx.physician), s.pk, s.version, WasteRemainderInput(ctx.nurse2, PASSWORD)
        )
    assert not RegisterEntry.objects.filter(kind="waste").exists()
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.detail["service"] == "do_waste_remainder" and event.outcome == Outcome.DENIED
