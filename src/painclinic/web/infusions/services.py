"""Infusion-day state changes: each one transaction holding its checks, rows and audit events.

Every ``do_*`` is a service (``painclinic.web.lib.service.service``): it acts for an explicit
``Actor``, whose role ``roles.ROLES`` must allow, and takes a typed input (``inputs.py``) with the
session's ``expected_version`` as its own argument. Every change locks the session row, compares
the version the caller started from (a stale one raises ``SessionConflict``, a ``StaleVersion``
naming what the other person charted), writes its rows, bumps the version with a
``SessionEvent`` and writes the audit event. A refusal (``Refused``) or conflict rolls the
change back; the ``service`` decorator then audits it, for every caller.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from painclinic.clinical import Action as MonitoringAction
from painclinic.clinical import score as score_instrument
from painclinic.clinical.monitoring import measure_words
from painclinic.web.accounts.models import Role
from painclinic.web.audit.services import Action, audit
from painclinic.web.drugregister.models import ControlledDrug
from painclinic.web.drugregister.services import DrugRegisterError, do_record_draw
from painclinic.web.infusions import policy, readiness, recovery
from painclinic.web.infusions.access import INFUSION_CATEGORY
from painclinic.web.infusions.cumulative import (
    Delivery,
    cumulative_24h,
    planned_by_steps,
)
from painclinic.web.infusions.inputs import (
    AcknowledgeInput,
    AdverseEventInput,
    AmendmentInput,
    CancelInput,
    ChecklistInput,
    DischargeInput,
    DoubleCheckInput,
    NoteInput,
    ObservationInput,
    PauseInput,
    PrepareBagInput,
    RateChangeInput,
    ResumeInput,
    StartInput,
    StopInput,
    WasteRemainderInput,
)
from painclinic.web.infusions.models import (
    AdverseEvent,
    AESeverity,
    Alert,
    AlertResponse,
    BagPreparation,
    CancelReason,
    Discharge,
    DoubleCheck,
    InfusionSession,
    NoteAmendment,
    Observation,
    PreInfusionChecklist,
    PreparationStatus,
    RateSegment,
    SessionCancellation,
    SessionEvent,
    SessionNote,
    SessionStatus,
)
from painclinic.web.infusions.roles import ROLES
from painclinic.web.infusions.rules import (
    Refused,
    calculate_rate,
    check_limits,
    check_session_limits,
    checklist_problems,
    delivered_mg,
    first_step,
    fmt,
    is_late,
    plan_rate_tolerance_mg_per_h,
    preparation_problems,
    remaining_planned_min,
    session_limits,
    time_problem,
    vitals_problems,
)
from painclinic.web.infusions.waste import waste_due
from painclinic.web.lib.clinicdate import clinic_today
from painclinic.web.lib.clinictime import to_local
from painclinic.web.lib.service import Actor, StaleVersion, note_subject, service

__all__ = ["NoteLocked", "Refused", "SessionConflict"]

TIMED_KINDS = ("start", "pause", "resume", "rate_change", "stop")
SERIOUS_SEVERITIES = (AESeverity.SEVERE, AESeverity.LIFE_THREATENING, AESeverity.DEATH)


class SessionConflict(StaleVersion):
    """The session changed after the caller read it: nothing was saved.

    ``session`` is the session as it is now and ``changes`` the ``SessionEvent`` rows charted
    since ``expected_version`` (the conflict page lists them); the audit event records their
    kinds.
    """

    def __init__(
        self, session: InfusionSession, expected_version: int, changes: list[SessionEvent]
    ) -> None:
        super().__init__(
            "the infusion record changed while you were charting",
            obj=session,
            patient=session.patient,
            expected_version=expected_version,
            current_version=session.version,
            changes=[event.kind for event in changes],
        )
        self.session = session
        self.changes = changes


# --- plumbing -------------------------------------------------------------------------------


def _lock(actor: Actor, session_id: int, expected_version: int) -> InfusionSession:
    """The session, locked, if it is still at ``expected_version``; names it as the subject
    of the running service (for a refusal's audit event)."""
    session = (
        InfusionSession.objects.select_for_update(of=("self",))
        .select_related("patient", "plan", "plan__weight", "planned_session")
        .filter(pk=session_id)
        .first()
    )
    if session is None:
        raise Refused("No such infusion session.")
    note_subject(patient=session.patient, obj=session)
    if session.version != expected_version:
        changes = list(
            SessionEvent.objects.filter(session=session, version__gt=expected_version)
            .select_related("recorded_by")
            .order_by("version")
        )
        # Audited by the ``service`` decorator after this transaction rolls back.
        raise SessionConflict(session, expected_version, changes)
    return session


def _note_session(session_id: int) -> None:
    """Name the session as the subject before the checks that run ahead of its lock (the
    witness's signature), so their refusal's audit event names the patient."""
    session = InfusionSession.objects.select_related("patient").filter(pk=session_id).first()
    if session is not None:
        note_subject(patient=session.patient, obj=session)


def _change(
    actor: Actor,
    session: InfusionSession,
    kind: str,
    summary: str,
    *,
    occurred_at: dt.datetime | None = None,
    status: str | None = None,
    obj: Any = None,
    action: str = Action.UPDATE,
    detail: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> SessionEvent:
    now = now or timezone.now()
    before = session.status
    session.version += 1
    if status is not None:
        session.status = status
    session.save(update_fields=["version", "status"])
    event = SessionEvent.objects.create(
        session=session,
        version=session.version,
        kind=kind,
        summary=summary[:300],
        occurred_at=occurred_at or now,
        recorded_at=now,
        recorded_by=actor.user,
    )
    audit(
        actor,
        category=INFUSION_CATEGORY,
        action=action,
        patient=session.patient,
        obj=obj if obj is not None else session,
        detail={
            "event": kind,
            "summary": summary,
            "session_id": session.pk,
            "version": session.version,
            "status_before": before,
            "status_after": session.status,
            "occurred_at": (occurred_at or now).isoformat(),
            **(late_entry(occurred_at, now) or {}),
            **(detail or {}),
        },
    )
    return event


def late_entry(occurred_at: dt.datetime | None, now: dt.datetime) -> dict[str, Any] | None:
    """The audit detail of a late entry (kept at its clinical time, marked on the chart)."""
    if occurred_at is None or not is_late(occurred_at, now):
        return None
    return {"late_entry": True, "charted_at": now.isoformat()}


def _require_status(session: InfusionSession, allowed: tuple[str, ...], doing: str) -> None:
    if session.status not in allowed:
        raise Refused(f"Cannot {doing}: the session is {session.get_status_display().lower()}.")


def _require_no_open_alerts(session: InfusionSession, doing: str) -> None:
    count = Alert.objects.filter(session=session, acknowledged_at__isnull=True).count()
    if count:
        raise Refused(
            f"Cannot {doing}: {count} alert{'s' if count > 1 else ''} not acknowledged. "
            "Acknowledge each alert with the action taken first."
        )


def _require_first_infusion_ready(session: InfusionSession, doing: str) -> None:
    """Open missing-information items block the patient's first infusion of the drug."""
    items = readiness.open_items(session)
    if items and readiness.is_first_infusion(session):
        raise Refused(readiness.blocking_message(items, doing))


def last_event_at(session: InfusionSession) -> dt.datetime | None:
    value = SessionEvent.objects.filter(session=session, kind__in=TIMED_KINDS).aggregate(
        last=Max("occurred_at")
    )["last"]
    return value if isinstance(value, dt.datetime) else None


def _check_time(session: InfusionSession, at: dt.datetime, what: str) -> None:
    problem = time_problem(at, last_event_at(session), what)
    if problem:
        raise Refused(problem, "at")


REGISTER_FIELDS = {
    "lot": "vial_lot",
    "amount_mg": "drawn_mg",
    "concentration_mg_per_ml": "vial_concentration_mg_per_ml",
}


# --- 1. open --------------------------------------------------------------------------------

RUNNING_STATUSES = (SessionStatus.RUNNING, SessionStatus.PAUSED)


def _hm(at: dt.datetime) -> str:
    return f"{to_local(at):%H:%M}"


def _day(at: dt.datetime) -> str:
    return f"{to_local(at):%Y-%m-%d}"


def running_infusion(patient_id: int, *, other_than: int | None = None) -> InfusionSession | None:
    """The patient's running or paused infusion (there is at most one), with its chair."""
    found = InfusionSession.objects.filter(patient_id=patient_id, status__in=RUNNING_STATUSES)
    if other_than is not None:
        found = found.exclude(pk=other_than)
    return found.select_related("booking__chair").first()


def _one_at_a_time(running: InfusionSession, doing: str) -> Refused:
    """The refusal naming the patient's other infusion: its chair and start time."""
    started = (
        RateSegment.objects.filter(session=running)
        .order_by("started_at")
        .values_list("started_at", flat=True)
        .first()
    )
    when = f", started {_hm(started)} on {_day(started)}" if started else ""
    return Refused(
        f"Another infusion of this patient is {running.get_status_display().lower()}: "
        f"{running.booking.chair}{when}. One infusion at a time: stop it before {doing}.",
        detail={"other_session_id": running.pk, "other_status": running.status},
    )


def _require_none_running(patient_id: int, doing: str, *, other_than: int | None) -> None:
    running = running_infusion(patient_id, other_than=other_than)
    if running is not None:
        raise _one_at_a_time(running, doing)


def _open(actor: Actor, booking_id: int, off_day_reason: str | None) -> InfusionSession:
    """Open the chart of a booking: on its clinic day (``off_day_reason`` None), or on another
    day with a physician's reason."""
    from painclinic.web.scheduling.models import Booking, BookingStatus
    from painclinic.web.treatments.models import PlanStatus

    note_subject(event="open", booking_id=booking_id)
    with transaction.atomic():
        booking = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("plan", "planned_session", "patient")
            .filter(pk=booking_id)
            .first()
        )
        if booking is None:
            raise Refused("No such booking.")
        note_subject(patient=booking.patient, obj=booking)
        existing = InfusionSession.objects.filter(booking=booking).first()
        if existing is not None and off_day_reason is None:
            return existing
        if existing is not None:
            raise Refused("The chart of this booking is open already.")
        if booking.status != BookingStatus.BOOKED:
            raise Refused(f"The booking is {booking.get_status_display().lower()}.")
        # The clinic's calendar day (settings.TIME_ZONE), not UTC's.
        booked_on, today = to_local(booking.starts_at).date(), clinic_today()
        if off_day_reason is None and booked_on != today:
            raise Refused(
                f"This booking is for {booked_on:%Y-%m-%d} at {_hm(booking.starts_at)}; today "
                f"is {today:%Y-%m-%d}: a chart is opened on its booking's day. If the patient "
                "must be infused today, a physician opens the chart with the reason."
            )
        if off_day_reason is not None and booked_on == today:
            raise Refused(
                "This booking is today: the nurse opens its chart as usual, no reason needed."
            )
        if off_day_reason is not None and not off_day_reason.strip():
            raise Refused(
                f"Give the reason for opening this chart today ({today:%Y-%m-%d}) for the "
                f"booking of {booked_on:%Y-%m-%d}.",
                "reason",
            )
        plan = booking.plan
        if plan is None or booking.planned_session is None:
            raise Refused("The booking has no treatment plan session: book it from a plan.")
        if plan.status != PlanStatus.ACTIVE:
            reasons: dict[str, str] = {
                PlanStatus.AWAITING_COSIGN: "awaits a second physician's co-signature",
                PlanStatus.COMPLETED: "is completed",
                PlanStatus.CANCELLED: "was cancelled",
            }
            why = reasons.get(str(plan.status), f"is {plan.status}")
            raise Refused(f"The treatment plan {why}: it must be active to infuse.")
        _require_none_running(booking.patient_id, "opening another chart", other_than=None)
        reason = (off_day_reason or "").strip()
        session = InfusionSession.objects.create(
            patient=booking.patient,
            booking=booking,
            plan=plan,
            planned_session=booking.planned_session,
            opened_by=actor.user,
            dosing_weight_kg=plan.dosing_weight_kg,
            opened_off_day_reason=reason,
        )
        now = timezone.now()
        summary = "Session opened"
        if reason:
            summary = (
                f"Session opened on {today:%Y-%m-%d} for the booking of {booked_on:%Y-%m-%d} "
                f"by {actor.user.display_name}: {reason}"
            )
        SessionEvent.objects.create(
            session=session,
            version=session.version,
            kind="open",
            summary=summary[:300],
            occurred_at=now,
            recorded_at=now,
            recorded_by=actor.user,
        )
        audit(
            actor,
            category=INFUSION_CATEGORY,
            action=Action.CREATE,
            patient=session.patient,
            obj=session,
            detail={
                "event": "open",
                "booking_id": booking.pk,
                "plan_id": plan.pk,
                "planned_session": booking.planned_session.number,
                "booking_day": f"{booked_on:%Y-%m-%d}",
                **({"off_day": True, "reason": reason} if reason else {}),
            },
        )
    return session


@service(ROLES.open_session, category=INFUSION_CATEGORY, action=Action.CREATE)
def do_open_session(actor: Actor, booking_id: int) -> InfusionSession:
    """Open the chart of a booked session on its clinic day (or return the one already open).

    Refused on another day (a physician may open it then, with a reason:
    ``do_open_session_off_day``) and while another infusion of the patient runs or is paused."""
    return _open(actor, booking_id, None)


@service(ROLES.open_session_off_day, category=INFUSION_CATEGORY, action=Action.CREATE)
def do_open_session_off_day(actor: Actor, booking_id: int, reason: str) -> InfusionSession:
    """A physician opens the chart of a booking on another day than its own, saying why (kept on
    the session, in its record and in the audit trail); the nurse then charts as usual, and the
    infusion may start from the time the chart was opened."""
    return _open(actor, booking_id, str(reason if reason is not None else ""))


# --- 2. checklist ---------------------------------------------------------------------------


@service(ROLES.complete_checklist, category=INFUSION_CATEGORY, action=Action.CREATE)
def do_complete_checklist(
    actor: Actor, session_id: int, expected_version: int, data: ChecklistInput
) -> PreInfusionChecklist:
    from painclinic.web.patients.services import WeightEntry, do_record_weight

    with transaction.atomic():
        session = _lock(actor, session_id, expected_version)
        _require_status(session, (SessionStatus.SCHEDULED,), "complete the checklist")
        _require_first_infusion_ready(session, "complete the checklist")
        now = timezone.now()
        problems, screen = checklist_problems(session, data.as_mapping(), now)
        if problems:
            field, message = next(iter(problems.items()))
            raise Refused(message, None if field == "__all__" else field)
        checklist = PreInfusionChecklist.objects.create(
            session=session,
            systolic_bp_mmhg=data.systolic_bp_mmhg,
            diastolic_bp_mmhg=data.diastolic_bp_mmhg,
            heart_rate_bpm=data.heart_rate_bpm,
            respiratory_rate_per_min=data.respiratory_rate_per_min,
            spo2_percent=data.spo2_percent,
            escort_name=data.escort_name.strip(),
            escort_phone=data.escort_phone.strip(),
            last_solids_at=data.last_solids_at,
            last_clear_fluids_at=data.last_clear_fluids_at,
            fasting_solids_hours_required=policy.fasting_hours()[0],
            fasting_clear_fluids_hours_required=policy.fasting_hours()[1],
            pregnancy_test=data.pregnancy_test,
            weight_kg=data.weight_kg,
            plan_weight_kg=session.plan.weight.weight_kg,
            no_new_conditions_confirmed=True,
            rescreen=screen or {},
            completed_by=actor.user,
            completed_at=now,
        )
        # The checklist compared this weight with the plan's already (checklist_problems).
        do_record_weight(
            actor,
            session.patient,
            WeightEntry(
                weight_kg=data.weight_kg,
                measured_on=timezone.localdate(now),
                confirmed_large_change=True,
            ),
        )
        _change(
            actor,
            session,
            "checklist",
            f"Checklist passed: BP {checklist.systolic_bp_mmhg}/{checklist.diastolic_bp_mmhg}, "
            f"HR {checklist.heart_rate_bpm}, weight {checklist.weight_kg} kg, "
            f"escort {checklist.escort_name}",
            status=SessionStatus.CHECKLIST_DONE,
            obj=checklist,
            action=Action.CREATE,
            detail={
                "rescreen_relative": [r["rule_id"] for r in (screen or {}).get("relative", [])]
            },
        )
    return checklist


# --- 3. bag preparation and independent double check ---------------------------------------


@service(ROLES.prepare_bag, category=INFUSION_CATEGORY, action=Action.CREATE)
def do_prepare_bag(
    actor: Actor, session_id: int, expected_version: int, data: PrepareBagInput
) -> BagPreparation:
    """Nurse 1's bag, checked against the drug library and the plan (a dose beyond a hard
    limit is ``HardLimitRefused``); the drug drawn for it is taken out of the register."""
    with transaction.atomic():
        session = _lock(actor, session_id, expected_version)
        _require_status(session, (SessionStatus.CHECKLIST_DONE,), "prepare a bag")
        if BagPreparation.objects.filter(
            session=session, status=PreparationStatus.AWAITING_CHECK
        ).exists():
            raise Refused("A bag already awaits its double check.")
        problems = preparation_problems(session, data.as_mapping())
        if problems:
            field, message = next(iter(problems.items()))
            raise Refused(message, field)
        step = first_step(session)
        result = calculate_rate(
            session,
            dose_value=data.dose_value,
            dose_unit=data.dose_unit,
            concentration_mg_per_ml=data.bag_concentration_mg_per_ml,
            duration_min=float(step["duration_min"]),
        )
        prep = BagPreparation.objects.create(
            session=session,
            drug=data.drug,
            vial_concentration_mg_per_ml=data.vial_concentration_mg_per_ml,
            bag_concentration_mg_per_ml=data.bag_concentration_mg_per_ml,
            dose_value=data.dose_value,
            dose_unit=data.dose_unit,
            pump_rate_entered_ml_per_h=data.pump_rate_entered_ml_per_h,
            rate_mg_per_h=result.rate_mg_per_h,
            rate_ml_per_h=result.rate_ml_per_h,
            drawn_mg=data.drawn_mg,
            vial_lot=data.vial_lot.strip(),
            prepared_by=actor.user,
            prepared_at=timezone.now(),
        )
        if session.plan.drug in ControlledDrug.values:
            try:
                do_record_draw(
                    actor,
                    session,
                    concentration_mg_per_ml=prep.vial_concentration_mg_per_ml,
                    amount_mg=prep.drawn_mg,
                    lot=prep.vial_lot,
                )
            except DrugRegisterError as error:
                register_field = REGISTER_FIELDS.get(error.field or "")
                raise Refused(f"Drug register: {error}", register_field) from error
            prep.register_draw_recorded = True
            prep.save(update_fields=["register_draw_recorded"])
        _change(
            actor,
            session,
            "prepare",
            f"Bag prepared by {actor.user.display_name}: awaiting double check",
            obj=prep,
            action=Action.CREATE,
            detail={
                "drug": prep.drug,
                "vial_concentration_mg_per_ml": str(prep.vial_concentration_mg_per_ml),
                "bag_concentration_mg_per_ml": str(prep.bag_concentration_mg_per_ml),
                "dose": f"{prep.dose_value} {prep.dose_unit}",
                "rate_mg_per_h": str(prep.rate_mg_per_h),
                "rate_ml_per_h": str(prep.rate_ml_per_h),
                "drawn_mg": str(prep.drawn_mg),
                "lot": prep.vial_lot,
                "register_draw_recorded": prep.register_draw_recorded,
            },
        )
    return prep


def _compare(
    session: InfusionSession, prep: BagPreparation, data: DoubleCheckInput, rate_mg_per_h: Decimal
) -> list[dict[str, str]]:
    step = first_step(session)
    planned_rate = Decimal(str(step["rate_mg_per_h"]))
    planned_conc = Decimal(str(step["concentration_mg_per_ml"]))
    tolerance = plan_rate_tolerance_mg_per_h(session, planned_conc)
    rows: list[dict[str, str]] = []

    def differ(field: str, label: str, one: str, two: str, plan: str) -> None:
        rows.append({"field": field, "label": label, "nurse_1": one, "nurse_2": two, "plan": plan})

    plan_drug = session.plan.drug
    if data.drug != prep.drug or data.drug != plan_drug:
        differ("drug", "Drug", prep.drug, data.drug, plan_drug)
    conc2 = Decimal(data.bag_concentration_mg_per_ml)
    if conc2 != prep.bag_concentration_mg_per_ml or conc2 != planned_conc:
        differ(
            "bag_concentration_mg_per_ml",
            "Bag concentration",
            fmt(prep.bag_concentration_mg_per_ml, "mg/mL"),
            fmt(conc2, "mg/mL"),
            fmt(planned_conc, "mg/mL"),
        )
    # The same dose may be written in mg/h or mg/kg/h: what is compared is the rate it gives.
    if (
        abs(rate_mg_per_h - prep.rate_mg_per_h) > Decimal("0.0001")
        or abs(rate_mg_per_h - planned_rate) > tolerance
    ):
        differ(
            "dose",
            "Dose",
            f"{fmt(prep.dose_value, prep.dose_unit)} ({fmt(prep.rate_mg_per_h, 'mg/h')})",
            f"{fmt(data.dose_value, data.dose_unit)} ({fmt(rate_mg_per_h, 'mg/h')})",
            fmt(planned_rate, "mg/h"),
        )
    pump2 = Decimal(data.pump_rate_entered_ml_per_h)
    if pump2 != prep.pump_rate_entered_ml_per_h or abs(pump2 - prep.rate_ml_per_h) > Decimal(
        "0.001"
    ):
        differ(
            "pump_rate",
            "Pump rate",
            fmt(prep.pump_rate_entered_ml_per_h, "mL/h"),
            fmt(pump2, "mL/h"),
            fmt(step["rate_ml_per_h"], "mL/h") if step.get("rate_ml_per_h") else "",
        )
    return rows


@service(ROLES.double_check, category=INFUSION_CATEGORY, action=Action.CREATE)
def do_double_check(
    actor: Actor, session_id: int, expected_version: int, data: DoubleCheckInput
) -> DoubleCheck:
    """Nurse 2's blind entry. A mismatch is recorded (and blocks the start) — a new bag
    preparation and double check are then needed."""
    with transaction.atomic():
        session = _lock(actor, session_id, expected_version)
        _require_status(session, (SessionStatus.CHECKLIST_DONE,), "double-check a bag")
        prep = (
            BagPreparation.objects.select_for_update()
            .filter(session=session, status=PreparationStatus.AWAITING_CHECK)
            .first()
        )
        if prep is None:
            raise Refused("No bag awaits a double check: nurse 1 prepares it first.")
        user = actor.user
        if prep.prepared_by_id == user.pk:
            raise Refused(
                "The independent double check must be done by a different nurse from the one "
                "who prepared the bag."
            )
        try:
            result = calculate_rate(
                session,
                dose_value=data.dose_value,
                dose_unit=data.dose_unit,
                concentration_mg_per_ml=data.bag_concentration_mg_per_ml,
                duration_min=float(first_step(session)["duration_min"]),
            )
            rate = result.rate_mg_per_h
        except Refused:
            rate = Decimal(-1)
        mismatches = _compare(session, prep, data, rate)
        cumulative = None
        if not mismatches:
            # What the patient would get over 24 hours if this bag started now, with what every
            # session gave them: the drug library's 24-hour limits (a reason above a soft one).
            now = timezone.now()
            cumulative = cumulative_24h(session, now, planned_by_steps(session, now))
            cumulative.check(data.limit_reason)
        limit_reason = data.limit_reason.strip() if cumulative and cumulative.crossed else ""
        check = DoubleCheck.objects.create(
            preparation=prep,
            drug=data.drug,
            bag_concentration_mg_per_ml=data.bag_concentration_mg_per_ml,
            dose_value=data.dose_value,
            dose_unit=data.dose_unit,
            pump_rate_entered_ml_per_h=data.pump_rate_entered_ml_per_h,
            rate_mg_per_h=max(rate, Decimal(0)),
            matches=not mismatches,
            mismatches=mismatches,
            limit_reason=limit_reason,
            checked_by=user,
            checked_at=timezone.now(),
        )
        prep.status = PreparationStatus.MISMATCH if mismatches else PreparationStatus.VERIFIED
        prep.save(update_fields=["status"])
        if mismatches:
            summary = "Double check MISMATCH (" + ", ".join(m["label"] for m in mismatches) + ")"
        else:
            summary = f"Double check by {user.display_name}: matches nurse 1 and the plan"
        if limit_reason and cumulative is not None:
            summary += (
                f"; {fmt(cumulative.window.total_mg, 'mg')} over 24 hours, above the soft "
                f"limit: {limit_reason}"
            )
        _change(
            actor,
            session,
            "double_check",
            summary,
            status=None if mismatches else SessionStatus.PREPARED,
            obj=check,
            action=Action.CREATE,
            detail={
                "matches": not mismatches,
                "mismatches": mismatches,
                **(
                    {"cumulative_24h": cumulative.detail(), "limit_reason": limit_reason}
                    if limit_reason and cumulative is not None
                    else {}
                ),
            },
        )
    return check


# --- 4. start, pause, resume, rate change, stop ---------------------------------------------


def verified_preparation(session: InfusionSession) -> BagPreparation | None:
    return (
        BagPreparation.objects.filter(session=session, status=PreparationStatus.VERIFIED)
        .order_by("-prepared_at", "-id")
        .first()
    )


def _open_segment(session: InfusionSession) -> RateSegment | None:
    return (
        RateSegment.objects.select_for_update()
        .filter(session=session, ended_at__isnull=True)
        .first()
    )


def _segments(session: InfusionSession) -> list[RateSegment]:
    return list(RateSegment.objects.filter(session=session).order_by("started_at", "id"))


def _elapsed_min(session: InfusionSession, at: dt.datetime) -> float:
    first = RateSegment.objects.filter(session=session).order_by("started_at").first()
    if first is None:
        return 0.0
    return (at - first.started_at).total_seconds() / 60


def _new_segment(
    actor: Actor,
    session: InfusionSession,
    *,
    at: dt.datetime,
    dose_value: Decimal,
    dose_unit: str,
    concentration: Decimal,
    reason: str,
    limit_reason: str = "",
    planned: list[Delivery] | None = None,
    cumulative_reason: str | None = None,
) -> RateSegment:
    """A rate from ``at``, checked against the drug library: the dose's own limits and the
    patient's 24 hours across sessions, with ``planned`` (default: this rate for the rest of the
    planned duration) as what is still to come. A hard limit is refused first, whichever it is;
    a soft one needs ``limit_reason`` (the 24-hour one ``cumulative_reason`` when given)."""
    segments = _segments(session)
    remaining_min = remaining_planned_min(session, _elapsed_min(session, at))
    result = calculate_rate(
        session,
        dose_value=dose_value,
        dose_unit=dose_unit,
        concentration_mg_per_ml=concentration,
        duration_min=remaining_min,
        prior_mg=delivered_mg(segments, at),
    )
    if planned is None:
        planned = [Delivery(at, at + dt.timedelta(minutes=remaining_min), result.rate_mg_per_h)]
    cumulative = cumulative_24h(session, at, planned)
    reason_24h = limit_reason if cumulative_reason is None else cumulative_reason
    # The whole session: what it gave so far and what is planned to its end (issue 11).
    whole = session_limits(
        session,
        [(s.started_at, s.ended_at or at, s.rate_mg_per_h) for s in segments if s.started_at < at],
        [(d.started_at, d.ended_at, d.rate_mg_per_h) for d in planned],
    )

    def dose_limits() -> None:
        check_limits(
            session, result, dose_value=dose_value, dose_unit=dose_unit, reason=limit_reason
        )

    if result.calculation.refused:
        dose_limits()  # a hard limit of the dose itself first
    check_session_limits(session, whole, reason=limit_reason, hard_only=True)
    cumulative.check(reason_24h)
    dose_limits()
    check_session_limits(session, whole, reason=limit_reason)
    limit_status = str(result.calculation.status)
    if whole.breaches and limit_status == "within":
        limit_status = "soft_limit"
    if cumulative.crossed:
        limit_status, limit_reason = "soft_limit", reason_24h.strip()
    return RateSegment.objects.create(
        session=session,
        started_at=at,
        dose_value=dose_value,
        dose_unit=dose_unit,
        rate_mg_per_h=result.rate_mg_per_h,
        rate_ml_per_h=result.rate_ml_per_h,
        concentration_mg_per_ml=concentration,
        start_reason=reason,
        limit_status=limit_status,
        limit_reason=limit_reason,
        started_by=actor.user,
    )


def _close_segment(
    actor: Actor, session: InfusionSession, at: dt.datetime, reason: str
) -> RateSegment:
    segment = _open_segment(session)
    if segment is None:
        raise Refused("No rate is running.")
    segment.ended_at = at
    segment.end_reason = reason
    segment.ended_by = actor.user
    segment.save(update_fields=["ended_at", "end_reason", "ended_by"])
    return segment


def _minute(at: dt.datetime) -> dt.datetime:
    """``at`` to the whole minute: the forms' times are whole minutes."""
    return at.replace(second=0, microsecond=0)


def _check_start_time(session: InfusionSession, prep: BagPreparation, at: dt.datetime) -> None:
    """Not in the future; not before the bag's double check; not before the booking allows
    (its time less the clinic's margin, or, for a chart a physician opened on another day, the
    time it was opened)."""
    _check_time(session, at, "start")
    check = getattr(prep, "double_check", None)
    checked = check.checked_at if check is not None else prep.prepared_at
    if at < _minute(checked):
        raise Refused(
            f"The start time ({_hm(at)}) is before the bag's double check ({_hm(checked)}): "
            "the bag is prepared and double-checked before the infusion starts.",
            "at",
        )
    booking = session.booking
    margin = policy.start_early_margin_min()
    earliest = booking.starts_at - dt.timedelta(minutes=margin)
    if session.opened_off_day_reason:
        earliest = min(earliest, _minute(session.created_at))
    if at < earliest:
        raise Refused(
            f"The infusion is booked for {_hm(booking.starts_at)} on {_day(booking.starts_at)}: "
            f"it may start from {_hm(earliest)} ({margin} min before), not {_hm(at)} on "
            f"{_day(at)}.",
            "at",
        )


def _start(actor: Actor, session_id: int, expected_version: int, data: StartInput) -> RateSegment:
    at = data.at
    with transaction.atomic():
        session = _lock(actor, session_id, expected_version)
        _require_status(session, (SessionStatus.PREPARED,), "start")
        _require_first_infusion_ready(session, "start")
        prep = verified_preparation(session)
        if prep is None:
            raise Refused("The bag has not passed an independent double check.")
        _require_none_running(session.patient_id, "starting this one", other_than=session.pk)
        _check_start_time(session, prep, at)
        check = getattr(prep, "double_check", None)
        segment = _new_segment(
            actor,
            session,
            at=at,
            dose_value=prep.dose_value,
            dose_unit=prep.dose_unit,
            concentration=prep.bag_concentration_mg_per_ml,
            reason="start",
            # The plan's dose was checked (soft limits co-signed) when it was prescribed.
            limit_reason=session.plan.soft_limit_reason or "dose as planned",
            planned=planned_by_steps(session, at),
            # Above the 24-hour soft limit: the reason given now, or at the double check.
            cumulative_reason=data.limit_reason.strip() or (check.limit_reason if check else ""),
        )
        _change(
            actor,
            session,
            "start",
            f"Started at {fmt(segment.rate_mg_per_h, 'mg/h')} "
            f"(pump {fmt(segment.rate_ml_per_h, 'mL/h')})"
            + (
                f"; above a soft limit: {segment.limit_reason}"
                if segment.limit_status == "soft_limit"
                else ""
            ),
            occurred_at=at,
            status=SessionStatus.RUNNING,
            obj=segment,
            detail={
                "rate_mg_per_h": str(segment.rate_mg_per_h),
                "limit_status": segment.limit_status,
                "limit_reason": segment.limit_reason,
            },
        )
    return segment


ONE_RUNNING = "one_running_infusion_per_patient"


def _is_second_running(error: IntegrityError) -> bool:
    """The one-running-infusion constraint (PostgreSQL names it; SQLite names its column)."""
    text = str(error)
    return ONE_RUNNING in text or "infusions_infusionsession.patient_id" in text


@service(ROLES.start, category=INFUSION_CATEGORY, action=Action.UPDATE)
def do_start(actor: Actor, session_id: int, expected_version: int, data: StartInput) -> RateSegment:
    """Start the double-checked bag at ``data.at``: refused while another infusion of the
    patient runs or is paused (naming its chair and start time), before the bag's double check
    or the booking's time less the clinic's margin, and beyond the drug library's limits, the
    patient's 24 hours across sessions included (``data.limit_reason``, or the double check's,
    above a soft one)."""
    try:
        return _start(actor, session_id, expected_version, data)
    except IntegrityError as error:
        # Two starts at the same moment, each before the other committed: the database's
        # constraint let one through. Name the winner, as the check inside would have.
        if not _is_second_running(error):
            raise
        patient_id = (
            InfusionSession.objects.filter(pk=session_id).values_list("patient_id", flat=True).get()
        )
        running = running_infusion(patient_id, other_than=session_id)
        if running is None:
            raise Refused(
                "Another infusion of this patient started at the same moment: open the chart again."
            ) from error
        raise _one_at_a_time(running, "starting this one") from error


def _pause(actor: Actor, session: InfusionSession, at: dt.datetime, why: str) -> None:
    _require_status(session, (SessionStatus.RUNNING,), "pause")
    _check_time(session, at, "pause")
    segment = _close_segment(actor, session, at, "pause")
    _change(
        actor,
        session,
        "pause",
        f"Paused{': ' + why if why else ''}",
        occurred_at=at,
        status=SessionStatus.PAUSED,
        obj=segment,
    )


@service(ROLES.pause, category=INFUSION_CATEGORY, action=Action.UPDATE)
def do_pause(actor: Actor, session_id: int, expected_version: int, data: PauseInput) -> None:
    with transaction.atomic():
        session = _lock(actor, session_id, expected_version)
        _pause(actor, session, data.at, data.reason)


@service(ROLES.resume, category=INFUSION_CATEGORY, action=Action.UPDATE)
def do_resume(
    actor: Actor, session_id: int, expected_version: int, data: ResumeInput
) -> RateSegment:
    at = data.at
    with transaction.atomic():
        session = _lock(actor, session_id, expected_version)
        _require_status(session, (SessionStatus.PAUSED,), "resume")
        _check_time(session, at, "resume")
        last = RateSegment.objects.filter(session=session).order_by("-started_at", "-id").first()
        if last is None:
            raise Refused("Nothing to resume.")
        segment = _new_segment(
            actor,
            session,
            at=at,
            dose_value=last.dose_value,
            dose_unit=last.dose_unit,
            concentration=last.concentration_mg_per_ml,
            reason="resume",
            # The same dose as before the pause, already accepted (with its reason, if any).
            limit_reason=last.limit_reason or "resumed at the dose running before the pause",
        )
        _change(
            actor,
            session,
            "resume",
            f"Resumed at {fmt(segment.rate_mg_per_h, 'mg/h')} "
            f"(pump {fmt(segment.rate_ml_per_h, 'mL/h')})",
            occurred_at=at,
            status=SessionStatus.RUNNING,
            obj=segment,
        )
    return segment


def _rate_change(
    actor: Actor,
    session: InfusionSession,
    at: dt.datetime,
    dose_value: Decimal,
    dose_unit: str,
    limit_reason: str,
) -> RateSegment:
    _require_status(session, (SessionStatus.RUNNING,), "change the rate")
    _check_time(session, at, "rate change")
    previous = _open_segment(session)
    if previous is None:
        raise Refused("No rate is running.")
    if previous.started_at == at:
        raise Refused("The rate change must be after the current rate's start.", "at")
    segment = _new_segment(
        actor,
        session,
        at=at,
        dose_value=dose_value,
        dose_unit=dose_unit,
        concentration=previous.concentration_mg_per_ml,
        reason="rate_change",
        limit_reason=limit_reason,
    )
    _close_segment(actor, session, at, "rate_change")
    _change(
        actor,
        session,
        "rate_change",
        f"Rate {fmt(previous.rate_mg_per_h, 'mg/h')} → {fmt(segment.rate_mg_per_h, 'mg/h')} "
        f"(pump {fmt(segment.rate_ml_per_h, 'mL/h')})"
        + (f"; soft limit: {limit_reason}" if segment.limit_status == "soft_limit" else ""),
        occurred_at=at,
        obj=segment,
        detail={
            "from_rate_mg_per_h": str(previous.rate_mg_per_h),
            "to_rate_mg_per_h": str(segment.rate_mg_per_h),
            "dose": f"{dose_value} {dose_unit}",
            "limit_status": segment.limit_status,
            "limit_reason": limit_reason,
        },
    )
    return segment


@service(ROLES.change_rate, category=INFUSION_CATEGORY, action=Action.UPDATE)
def do_change_rate(
    actor: Actor, session_id: int, expected_version: int, data: RateChangeInput
) -> RateSegment:
    """A new rate from a dose (the pump rate is computed); a dose beyond a hard limit is
    ``HardLimitRefused``, one above a soft limit needs ``limit_reason``."""
    with transaction.atomic():
        session = _lock(actor, session_id, expected_version)
        return _rate_change(
            actor, session, data.at, data.dose_value, data.dose_unit, data.limit_reason
        )


def _stop(actor: Actor, session: InfusionSession, at: dt.datetime, reason: str) -> None:
    _require_status(session, (SessionStatus.RUNNING, SessionStatus.PAUSED), "stop")
    _check_time(session, at, "stop")
    segment = None
    if session.status == SessionStatus.RUNNING:
        segment = _close_segment(actor, session, at, "stop")
    total = delivered_mg(_segments(session), at)
    _change(
        actor,
        session,
        "stop",
        f"Stopped; delivered {fmt(total, 'mg')}{': ' + reason if reason else ''}",
        occurred_at=at,
        status=SessionStatus.STOPPED,
        obj=segment,
        detail={"delivered_mg": str(total.quantize(Decimal("0.001")))},
    )


@service(ROLES.stop, category=INFUSION_CATEGORY, action=Action.UPDATE)
def do_stop(actor: Actor, session_id: int, expected_version: int, data: StopInput) -> None:
    with transaction.atomic():
        session = _lock(actor, session_id, expected_version)
        _require_no_open_alerts(session, "stop")
        _stop(actor, session, data.at, data.reason)


# --- 5/6. observations and alerts -----------------------------------------------------------


@service(ROLES.record_observation, category=INFUSION_CATEGORY, action=Action.CREATE)
def do_record_observation(
    actor: Actor, session_id: int, expected_version: int, data: ObservationInput
) -> Observation:
    with transaction.atomic():
        session = _lock(actor, session_id, expected_version)
        _require_status(
            session,
            (SessionStatus.RUNNING, SessionStatus.PAUSED, SessionStatus.STOPPED),
            "record an observation",
        )
        at = data.observed_at
        first = RateSegment.objects.filter(session=session).order_by("started_at").first()
        problem = time_problem(at, first.started_at if first else None, "observation")
        if problem:
            raise Refused(
                problem.replace("previous charted event", "infusion start"), "observed_at"
            )
        problems = vitals_problems(data.as_mapping())
        if problems:
            field, message = next(iter(problems.items()))
            raise Refused(message, field)
        running = (
            RateSegment.objects.filter(session=session, started_at__lte=at)
            .filter(ended_at__isnull=True)
            .first()
        ) or (
            RateSegment.objects.filter(session=session, started_at__lte=at, ended_at__gt=at).first()
        )
        rate = running.rate_mg_per_h if running else Decimal(0)
        measures = {
            "systolic_bp_mmhg": data.systolic_bp_mmhg,
            "diastolic_bp_mmhg": data.diastolic_bp_mmhg,
            "heart_rate_bpm": data.heart_rate_bpm,
            "respiratory_rate_per_min": data.respiratory_rate_per_min,
            "spo2_percent": data.spo2_percent,
            "rass": data.rass,
            "moaas": data.moaas,
            "cadss6": data.cadss6,
        }
        # During the infusion or in recovery after it; relative to the pre-infusion baseline.
        phase = recovery.phase_at(session, at)
        decision = recovery.evaluate(
            session,
            measures,
            data.symptoms,
            phase,
            float(rate),
            (at - first.started_at).total_seconds() / 60 if first is not None else None,
        )
        now = timezone.now()
        observation = Observation.objects.create(
            session=session,
            observed_at=at,
            phase=phase,
            **{k: v for k, v in measures.items()},
            pain_nrs=data.pain_nrs,
            symptoms=sorted(data.symptoms),
            note=data.note.strip(),
            rate_mg_per_h=rate if running else None,
            action=decision.action.value,
            decision=decision.to_dict(),
            recorded_by=actor.user,
            recorded_at=now,
        )
        alert = None
        # An incomplete round raises no alert: the chart shows it and asks for the values.
        if decision.action not in (MonitoringAction.CONTINUE, MonitoringAction.INCOMPLETE):
            alert = Alert.objects.create(
                session=session,
                observation=observation,
                action=decision.action.value,
                reasons=[r.to_dict() for r in decision.reasons],
                raised_at=timezone.now(),
            )

        def shown(value: Any) -> str:
            return "not measured" if value is None else str(value)

        summary = (
            f"{'Recovery observation' if phase == 'recovery' else 'Observation'} "
            f"BP {shown(observation.systolic_bp_mmhg)}/{shown(observation.diastolic_bp_mmhg)}, "
            f"HR {shown(observation.heart_rate_bpm)}, "
            f"RR {shown(observation.respiratory_rate_per_min)}, "
            f"SpO2 {shown(observation.spo2_percent)}"
            f"{'%' if observation.spo2_percent is not None else ''}"
        )
        if not decision.complete:
            summary += " — INCOMPLETE: record " + ", ".join(
                measure_words(m) for m in decision.not_recorded
            )
        if alert is not None:
            summary += f" — ALERT: {decision.action.value.replace('_', ' ')}"
        _change(
            actor,
            session,
            "observation",
            summary,
            occurred_at=at,
            now=now,
            obj=observation,
            action=Action.CREATE,
            detail={
                "monitoring_action": decision.action.value,
                "rules": list(decision.rule_ids),
                "alert_id": alert.pk if alert else None,
                "phase": phase,
                "not_recorded": list(decision.not_recorded),
            },
        )
    return observation


@service(ROLES.acknowledge_alert, category=INFUSION_CATEGORY, action=Action.UPDATE)
def do_acknowledge_alert(
    actor: Actor,
    session_id: int,
    expected_version: int,
    alert_id: int,
    data: AcknowledgeInput,
) -> Alert:
    """Acknowledge an alert with the action taken; a rate reduction, pause or stop is carried
    out in the same transaction."""
    with transaction.atomic():
        session = _lock(actor, session_id, expected_version)
        alert = Alert.objects.select_for_update().filter(pk=alert_id, session=session).first()
        if alert is None:
            raise Refused("No such alert on this session.")
        if alert.acknowledged_at is not None:
            raise Refused("This alert was already acknowledged.")
        response = data.response
        if response not in AlertResponse.values:
            raise Refused("Choose the action taken.", "response")
        at = data.at or timezone.now()
        text = data.action_taken.strip()
        if not text:
            raise Refused("Say what you did.", "action_taken")
        segment = None
        if response == AlertResponse.REDUCE_RATE:
            current = _open_segment(session)
            if current is None:
                raise Refused("No rate is running to reduce.", "response")
            if data.dose_value is None:
                raise Refused("Enter the new dose.", "dose_value")
            segment = _rate_change(
                actor, session, at, data.dose_value, data.dose_unit, data.limit_reason
            )
            if segment.rate_mg_per_h >= current.rate_mg_per_h:
                raise Refused(
                    f"{fmt(segment.rate_mg_per_h, 'mg/h')} is not lower than the running "
                    f"{fmt(current.rate_mg_per_h, 'mg/h')}.",
                    "dose_value",
                )
            text = f"{text} (rate reduced to {fmt(segment.rate_mg_per_h, 'mg/h')})"
        elif response == AlertResponse.PAUSE:
            _pause(actor, session, at, f"alert {alert.pk}")
        alert.acknowledged_by = actor.user
        alert.acknowledged_at = timezone.now()
        alert.response = response
        alert.action_taken = text
        alert.rate_segment = segment
        alert.save(
            update_fields=[
                "acknowledged_by",
                "acknowledged_at",
                "response",
                "action_taken",
                "rate_segment",
            ]
        )
        _change(
            actor,
            session,
            "alert_ack",
            f"Alert acknowledged ({alert.action.replace('_', ' ')}): {text}",
            occurred_at=alert.acknowledged_at,
            obj=alert,
            detail={"alert_id": alert.pk, "response": response, "action_taken": text},
        )
        if response == AlertResponse.STOP:
            _require_no_open_alerts(session, "stop")
            _stop(actor, session, at, f"alert {alert.pk}: {text}")
    return alert


# --- 7. adverse events ----------------------------------------------------------------------


def is_serious(data: AdverseEventInput) -> bool:
    return bool(
        data.serious
        or data.severity in SERIOUS_SEVERITIES
        or data.outcome in ("transferred", "death")
        or data.event_type == "transfer"
    )


@service(ROLES.record_adverse_event, category=INFUSION_CATEGORY, action=Action.CREATE)
def do_record_adverse_event(
    actor: Actor, session_id: int, expected_version: int, data: AdverseEventInput
) -> AdverseEvent:
    with transaction.atomic():
        session = _lock(actor, session_id, expected_version)
        _require_status(
            session,
            (
                SessionStatus.CHECKLIST_DONE,
                SessionStatus.PREPARED,
                SessionStatus.RUNNING,
                SessionStatus.PAUSED,
                SessionStatus.STOPPED,
                SessionStatus.DISCHARGED,
                SessionStatus.SIGNED,
            ),
            "record an adverse event",
        )
        at = data.occurred_at
        problem = time_problem(at, None, "event")
        if problem:
            raise Refused(problem, "occurred_at")
        serious = is_serious(data)
        event = AdverseEvent.objects.create(
            session=session,
            occurred_at=at,
            event_type=data.event_type,
            severity=data.severity,
            description=data.description.strip(),
            action_taken=data.action_taken.strip(),
            outcome=data.outcome,
            serious=serious,
            report_due_at=at + dt.timedelta(hours=policy.serious_event_report_hours())
            if serious
            else None,
            recorded_by=actor.user,
            recorded_at=timezone.now(),
        )
        _change(
            actor,
            session,
            "adverse_event",
            f"Adverse event: {event.get_event_type_display()} ({event.get_severity_display()})"
            + (" — SERIOUS, 24-h report" if serious else ""),
            occurred_at=at,
            obj=event,
            action=Action.CREATE,
            detail={
                "event_type": event.event_type,
                "severity": event.severity,
                "outcome": event.outcome,
                "serious": serious,
            },
        )
    return event


# --- 9. discharge ---------------------------------------------------------------------------


def aldrete_result(answers: dict[str, int]) -> Any:
    return score_instrument("aldrete", answers)


#: The discharge form's field for each unmet criterion (the refusal goes on it).
DISCHARGE_FIELDS = {
    "padss": "padss_activity",
    "aldrete": "activity",
    "escort": "escort_confirmed",
}


@service(ROLES.discharge, category=INFUSION_CATEGORY, action=Action.CREATE)
def do_discharge(
    actor: Actor, session_id: int, expected_version: int, data: DischargeInput
) -> Discharge:
    with transaction.atomic():
        session = _lock(actor, session_id, expected_version)
        _require_status(session, (SessionStatus.STOPPED,), "discharge")
        _require_no_open_alerts(session, "discharge")
        at = data.at
        _check_time(session, at, "discharge")
        aldrete = data.aldrete
        result = aldrete_result(aldrete)
        padss = data.padss
        if any(v is None for v in padss.values()):
            raise Refused("Score every PADSS item.", "padss_activity")
        escort = data.escort_confirmed and bool(data.escort_name.strip())
        status = recovery.discharge_status(
            session,
            at,
            padss_answers=padss,
            aldrete_score=int(result.score),
            escort_present=escort,
        )
        if not status.decision.ready:
            unmet = status.decision.unmet
            # On the form's field when the form can fix it (the PADSS only once its
            # vital-signs item is known), else on the whole form.
            fixable = [
                DISCHARGE_FIELDS[c.key]
                for c in unmet
                if c.key in DISCHARGE_FIELDS
                and (c.key != "padss" or status.padss_vital_signs is not None)
            ]
            raise Refused(
                "Not ready for discharge. Still needed: "
                + "; ".join(c.message for c in unmet)
                + ".",
                fixable[0] if fixable else "__all__",
            )
        discharge = Discharge.objects.create(
            session=session,
            aldrete_answers=aldrete,
            aldrete_score=int(result.score),
            padss_answers={"vital_signs": status.padss_vital_signs, **padss},
            padss_score=recovery.padss_total(status.padss_vital_signs, padss),
            criteria=status.decision.to_dict(),
            escort_name=data.escort_name.strip(),
            escort_phone=data.escort_phone.strip(),
            discharged_at=at,
            discharged_by=actor.user,
        )
        _change(
            actor,
            session,
            "discharge",
            f"Discharged with {discharge.escort_name}; Aldrete {discharge.aldrete_score}/10, "
            f"PADSS {discharge.padss_score}/10",
            occurred_at=at,
            status=SessionStatus.DISCHARGED,
            obj=discharge,
            action=Action.CREATE,
            detail={
                "aldrete": aldrete,
                "aldrete_score": discharge.aldrete_score,
                "padss": discharge.padss_answers,
                "padss_score": discharge.padss_score,
            },
        )
    return discharge


# --- 10. note -------------------------------------------------------------------------------


class NoteLocked(Refused):
    """A signed note cannot be edited; amend it instead."""


@service(ROLES.save_note, category=INFUSION_CATEGORY, action=Action.UPDATE)
def do_save_note(
    actor: Actor, session_id: int, expected_version: int, data: NoteInput
) -> SessionNote:
    """Save the note's draft, or sign and lock it (``data.sign``); a signed note is
    ``NoteLocked``: amend it instead."""
    text, sign = data.text, data.sign
    with transaction.atomic():
        session = _lock(actor, session_id, expected_version)
        note = SessionNote.objects.select_for_update().filter(session=session).first()
        if note is not None and note.signed:
            raise NoteLocked("The note is signed and locked: add an amendment instead.")
        if sign:
            _require_status(
                session, (SessionStatus.STOPPED, SessionStatus.DISCHARGED), "sign the note"
            )
            _require_no_open_alerts(session, "sign the note")
            _require_nothing_left_to_waste(session)
        if not text.strip():
            raise Refused("The note is empty.", "text")
        now = timezone.now()
        before = note.text if note else ""
        if note is None:
            note = SessionNote(session=session)
        note.text = text.strip()
        note.updated_by = actor.user
        note.updated_at = now
        if sign:
            note.signed_by = actor.user
            note.signed_at = now
        note.save()
        _change(
            actor,
            session,
            "note_sign" if sign else "note_draft",
            "Note signed" if sign else "Note draft saved",
            status=SessionStatus.SIGNED if sign else None,
            obj=note,
            detail={"changed": before != note.text, "signed": sign},
        )
    return note


@service(ROLES.amend_note, category=INFUSION_CATEGORY, action=Action.AMEND)
def do_amend_note(
    actor: Actor, session_id: int, expected_version: int, data: AmendmentInput
) -> NoteAmendment:
    text, reason = data.text, data.reason
    with transaction.atomic():
        session = _lock(actor, session_id, expected_version)
        note = SessionNote.objects.select_for_update().filter(session=session).first()
        if note is None or not note.signed:
            raise Refused("Only a signed note is amended; edit the draft instead.")
        if not text.strip():
            raise Refused("Write the correction.", "text")
        if not reason.strip():
            raise Refused("Give the reason for the amendment.", "reason")
        amendment = NoteAmendment.objects.create(
            note=note,
            text=text.strip(),
            reason=reason.strip(),
            signed_by=actor.user,
            signed_at=timezone.now(),
        )
        _change(
            actor,
            session,
            "note_amend",
            f"Note amended: {amendment.reason}",
            obj=amendment,
            action=Action.AMEND,
            detail={
                "amendment_id": amendment.pk,
                "reason": amendment.reason,
                "text": amendment.text,
            },
        )
    return amendment


# --- 8b. witnessed waste of the remainder (controlled drugs) --------------------------------

WASTE_STATUSES = (SessionStatus.STOPPED, SessionStatus.DISCHARGED)
CANCELLABLE_STATUSES = (
    SessionStatus.SCHEDULED,
    SessionStatus.CHECKLIST_DONE,
    SessionStatus.PREPARED,
)


def _require_nothing_left_to_waste(session: InfusionSession) -> None:
    due = waste_due(session)
    if due is not None and due.outstanding:
        raise Refused(
            f"Cannot sign the note: {due.remainder} of {session.plan.drug} drawn for this "
            f"session is not wasted (drawn {due.drawn}, delivered {due.delivered}, wasted "
            f"{due.wasted}). Record the witnessed waste on the chart first."
        )


def _register_refusal(error: DrugRegisterError) -> Refused:
    """A drug-register refusal as an infusion-day refusal on the same field, keeping its audit
    detail (a failed witness's id counts towards the witness lock-out)."""
    return Refused(f"Drug register: {error.message}", error.field, detail=error.detail)


def _verify_witness(actor: Actor, data: WasteRemainderInput | CancelInput) -> None:
    """Check the witness's signature first, before the session is locked: a wrong password is
    refused, and audited by the service after the rollback with the witness's id (it counts
    towards the witness lock-out). ``do_record_waste`` checks it again inside the transaction."""
    from painclinic.web.drugregister.models import EntryKind
    from painclinic.web.drugregister.services import DrugRegisterError, verify_witness

    try:
        verify_witness(actor, data.witness, data.witness_password or "", what=EntryKind.WASTE)
    except DrugRegisterError as error:
        raise _register_refusal(error) from error


def _record_waste(
    actor: Actor,
    session: InfusionSession,
    amount_mg: Decimal,
    concentration: Decimal,
    data: WasteRemainderInput | CancelInput,
    reason: str,
) -> Any:
    from painclinic.web.drugregister.services import DrugRegisterError, do_record_waste

    try:
        return do_record_waste(
            actor,
            session,
            concentration_mg_per_ml=concentration,
            amount_mg=amount_mg,
            witness=data.witness,
            witness_password=data.witness_password or "",
            reason=reason,
        )
    except DrugRegisterError as error:
        raise _register_refusal(error) from error


@service(ROLES.waste_remainder, category=INFUSION_CATEGORY, action=Action.CREATE)
def do_waste_remainder(
    actor: Actor, session_id: int, expected_version: int, data: WasteRemainderInput
) -> Any:
    """Waste what is left of the drug drawn for a stopped session, witnessed (second person,
    password re-entry), through the drug register, with the session event in one transaction.

    The amount is computed (drawn - delivered - already wasted), never typed. Only a nurse
    records controlled-drug waste (``ROLES.waste_remainder``)."""
    _note_session(session_id)
    _verify_witness(actor, data)
    with transaction.atomic():
        session = _lock(actor, session_id, expected_version)
        _require_status(session, WASTE_STATUSES, "waste the remainder")
        due = waste_due(session)
        if due is None or not due.outstanding:
            raise Refused("Nothing is left to waste for this session.")
        if due.concentration is None:
            raise Refused(
                "The drug was drawn at more than one vial concentration: record the waste of "
                "each in the drug register's waste page for this session."
            )
        entry = _record_waste(
            actor,
            session,
            due.remainder_mg,
            due.concentration,
            data,
            f"Remainder after the infusion: drawn {due.drawn}, delivered {due.delivered}"
            + (f", already wasted {due.wasted}" if due.wasted_mg else ""),
        )
        _change(
            actor,
            session,
            "waste",
            f"Remainder {due.remainder} wasted (drawn {due.drawn}, delivered {due.delivered}), "
            f"witnessed by {entry.witness.display_name}",
            obj=entry,
            action=Action.CREATE,
            detail={
                "register_entry_id": entry.pk,
                "drawn_mg": str(due.drawn_mg),
                "delivered_mg": str(due.delivered_mg.quantize(Decimal("0.001"))),
                "wasted_before_mg": str(due.wasted_mg),
                "amount_mg": str(due.remainder_mg),
                "witness_id": entry.witness_id,
            },
        )
    return entry


# --- 11. cancellation of a session that has not started --------------------------------------


def cancel_reason_text(reason: str, detail: str) -> str:
    label = str(CancelReason(reason).label)
    if reason == CancelReason.OTHER:
        return detail
    return f"{label}: {detail}" if detail else label


def booking_reason_text(reason: str) -> str:
    """What the cancelled booking says, which the front desk reads: the reason's category,
    never the clinician's details (those stay on the chart, for the clinical roles)."""
    if reason == CancelReason.OTHER:
        return "Other reason (details on the infusion chart)"
    return str(CancelReason(reason).label)


@service(ROLES.cancel_session, category=INFUSION_CATEGORY, action=Action.UPDATE)
def do_cancel_session(
    actor: Actor, session_id: int, expected_version: int, data: CancelInput
) -> SessionCancellation:
    """Cancel a session that has not started, with a reason; its booking is cancelled with the
    same reason through the scheduling service (the chair is freed). Drug already drawn from
    the register for the bag is wasted, witnessed, in the same transaction: a cancelled
    session never leaves controlled drug unaccounted for. A running or paused infusion is
    stopped, not cancelled."""
    from painclinic.web.scheduling.services import SchedulingError, cancel_booking_of_session

    user = actor.user
    _note_session(session_id)
    reason = str(data.reason or "")
    if reason not in CancelReason.values:
        raise Refused("Choose the reason for cancelling.", "reason")
    detail = str(data.detail or "").strip()
    if reason == CancelReason.OTHER and not detail:
        raise Refused("Say why the session is cancelled.", "detail")
    wants_witness = bool(data.witness)
    if wants_witness:
        _verify_witness(actor, data)
    with transaction.atomic():
        session = _lock(actor, session_id, expected_version)
        if session.status in (SessionStatus.RUNNING, SessionStatus.PAUSED):
            raise Refused(
                "The infusion has started: it cannot be cancelled. Stop it instead (Stop on the "
                "chart) and record why."
            )
        _require_status(session, CANCELLABLE_STATUSES, "cancel the session")
        text = cancel_reason_text(reason, detail)
        entry = None
        due = waste_due(session, delivered=Decimal(0))
        if due is not None and due.outstanding:
            if user.role != Role.NURSE:
                raise Refused(
                    f"{due.remainder} of {session.plan.drug} was drawn for this bag: a nurse "
                    "cancels the session and records its witnessed waste in the same step."
                )
            if not wants_witness:
                raise Refused(
                    f"{due.remainder} of {session.plan.drug} was drawn for this bag and must be "
                    "wasted with a witness as part of the cancellation: choose the witness, "
                    "who enters their own password.",
                    "witness",
                )
            if due.concentration is None:
                raise Refused(
                    "The drug was drawn at more than one vial concentration: record the waste "
                    "of each in the drug register's waste page first."
                )
            entry = _record_waste(
                actor,
                session,
                due.remainder_mg,
                due.concentration,
                data,
                f"Session cancelled before the start ({text}): all of the drawn drug wasted",
            )
        try:
            cancel_booking_of_session(actor, session.booking_id, reason=booking_reason_text(reason))
        except SchedulingError as error:
            raise Refused(f"Booking: {error}") from error
        cancellation = SessionCancellation.objects.create(
            session=session,
            reason=reason,
            detail=detail,
            status_before=session.status,
            waste_entry=entry,
            cancelled_by=user,
            cancelled_at=timezone.now(),
        )
        _change(
            actor,
            session,
            "cancel",
            f"Session cancelled: {text}"
            + (f"; {due.remainder} wasted, witnessed" if entry is not None and due else ""),
            status=SessionStatus.CANCELLED,
            obj=cancellation,
            action=Action.UPDATE,
            detail={
                "reason": reason,
                "reason_detail": detail,
                "booking_id": session.booking_id,
                "waste_entry_id": entry.pk if entry is not None else None,
            },
        )
    return cancellation


# --- 7b. serious adverse events: the 24-hour report -----------------------------------------


@service(ROLES.mark_adverse_event_reported, category=INFUSION_CATEGORY, action=Action.UPDATE)
def do_mark_adverse_event_reported(actor: Actor, event_id: int, reference: str) -> AdverseEvent:
    """Record once that a serious adverse event was reported (CPSO out-of-hospital premises
    programme), with the report number or to whom it was sent. It cannot be unset or changed:
    a correction is an amendment of the session note, which keeps this mark as it was."""
    user = actor.user
    note_subject(event="sae_reported", adverse_event_id=event_id)
    reference = (reference or "").strip()
    with transaction.atomic():
        event = (
            AdverseEvent.objects.select_for_update(of=("self",))
            .select_related("session__patient", "reported_by")
            .filter(pk=event_id)
            .first()
        )
        if event is None:
            raise Refused("No such adverse event.")
        note_subject(patient=event.session.patient, obj=event)
        if not reference:
            raise Refused(
                "Give the report number (or to whom and how the report was sent).", "reference"
            )
        if not event.serious:
            raise Refused("Only a serious adverse event has a 24-hour report.")
        if event.reported_at is not None:
            reporter = event.reported_by.display_name if event.reported_by else "someone"
            raise Refused(
                f"Already marked reported on {timezone.localtime(event.reported_at):%Y-%m-%d %H:%M}"
                f" by {reporter} (reference {event.report_reference}). It cannot be changed: add "
                "a correction as an amendment of the session note."
            )
        now = timezone.now()
        AdverseEvent.objects.filter(pk=event.pk, reported_at__isnull=True).update(
            reported_at=now, reported_by=user, report_reference=reference
        )
        event.refresh_from_db()
        late = event.report_due_at is not None and now > event.report_due_at
        audit(
            actor,
            category=INFUSION_CATEGORY,
            action=Action.UPDATE,
            patient=event.session.patient,
            obj=event,
            detail={
                "event": "sae_reported",
                "session_id": event.session_id,
                "before": {"reported": False},
                "after": {"reported_at": now.isoformat(), "report_reference": reference},
                "report_due_at": event.report_due_at.isoformat() if event.report_due_at else None,
                "late": late,
            },
        )
    return event
