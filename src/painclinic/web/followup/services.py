"""Follow-up services: plan each series' time points, queue reminders, record each e-mail.

Sending an e-mail cannot be part of a database transaction, so a reminder goes through three
committed steps, each its own service call (the worker in ``tasks.py`` calls them in turn):

1. :func:`do_queue_reminders` creates a ``queued`` reminder for each time point whose
   reminder is due (``clinical.followup.reminder_due``); the unique (time point, day) row makes
   a second worker or a second tick a no-op;
2. :func:`do_claim_reminder` marks it ``sending`` (committed) just before the e-mail goes;
3. :func:`do_record_reminder_outcome` marks it ``sent``, ``retry`` (a transient failure, with
   the policy's back-off) or ``failed``.

A worker that stops between 2 and 3 leaves a ``sending`` reminder: the next tick marks it
``unconfirmed`` and never sends it again, so no patient gets the same reminder twice; staff
see it on the patient's follow-up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from painclinic.clinical.followup import (
    ANSWERABLE,
    FollowUpPolicy,
    ScheduledTimePoint,
    build_schedule,
    load_followup_policy,
    reminder_due,
    retry_delay_minutes,
    window_state,
)
from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.followup.models import (
    FollowUpTimePoint,
    Reminder,
    ReminderStatus,
    TimePointStatus,
)
from painclinic.web.followup.roles import ROLES
from painclinic.web.lib.clinictime import to_local
from painclinic.web.lib.service import Actor, service
from painclinic.web.patients.models import ConsentDecision, ConsentKind, Patient
from painclinic.web.scheduling.models import Booking, BookingStatus
from painclinic.web.treatments.models import PlanStatus, TreatmentPlan

# A claimed reminder whose outcome was not recorded within this time was being sent when the
# worker stopped (an SMTP exchange takes seconds, not minutes).
SENDING_LEASE = dt.timedelta(minutes=10)
# Reminder counts toward the policy's "at most N": every reminder that reached, may have
# reached, or is about to reach the patient.
COUNTED = (
    ReminderStatus.QUEUED,
    ReminderStatus.SENDING,
    ReminderStatus.SENT,
    ReminderStatus.RETRY,
    ReminderStatus.UNCONFIRMED,
)
# How far back a series' last infusion may lie and still have follow-up to plan.
PLANNING_HORIZON_DAYS = 120


@dataclass(frozen=True)
class PlanningSummary:
    created: int
    replanned: int
    cancelled: int


@dataclass(frozen=True)
class ClaimedReminder:
    """What the worker needs to send one reminder (no ORM object leaves the transaction)."""

    reminder_id: int
    to_address: str
    patient_name: str
    time_point_label: str
    closes_on: dt.date
    number: int


def _policy() -> FollowUpPolicy:
    return load_followup_policy()


def _series_days(plan_ids: list[int]) -> dict[int, tuple[dt.date, dt.date]]:
    """First and last clinic-local infusion day of each plan, from its bookings not cancelled."""
    days: dict[int, tuple[dt.date, dt.date]] = {}
    rows = (
        Booking.objects.filter(plan_id__in=plan_ids)
        .exclude(status=BookingStatus.CANCELLED)
        .values("plan_id")
        .annotate(first=Min("starts_at"), last=Max("starts_at"))
    )
    for row in rows:
        days[row["plan_id"]] = (to_local(row["first"]).date(), to_local(row["last"]).date())
    return days


def _dates(point: ScheduledTimePoint) -> dict[str, dt.date]:
    return {
        "opens_on": point.opens_on,
        "due_on": point.due_on,
        "overdue_from": point.overdue_from,
        "closes_on": point.closes_on,
    }


@service(ROLES.plan_followup, category=Category.FOLLOWUP, action=Action.UPDATE)
def do_plan_followup(actor: Actor, today: dt.date) -> PlanningSummary:
    """Create the follow-up time points of every recent series and move them with the series.

    A series is a treatment plan with bookings; its first and last infusion days are its
    bookings' that are not cancelled, so a series cut short or extended is re-planned, and a
    plan whose every booking was cancelled has nothing to follow. A time point already answered
    keeps its dates. One audit event per series planned or moved.
    """
    policy = _policy()
    horizon = today - dt.timedelta(days=PLANNING_HORIZON_DAYS)
    plans = list(
        TreatmentPlan.objects.filter(
            status__in=(PlanStatus.ACTIVE, PlanStatus.COMPLETED, PlanStatus.CANCELLED),
            bookings__starts_at__date__gte=horizon,
        )
        .distinct()
        .values_list("id", "patient_id")
    )
    series = _series_days([plan_id for plan_id, _ in plans])
    existing: dict[int, dict[str, FollowUpTimePoint]] = {}
    for point in FollowUpTimePoint.objects.filter(plan_id__in=[p for p, _ in plans]):
        existing.setdefault(point.plan_id, {})[point.key] = point
    now = timezone.now()
    created = replanned = cancelled = 0
    with transaction.atomic():
        for plan_id, patient_id in plans:
            points = existing.get(plan_id, {})
            if plan_id not in series:
                open_points = [p for p in points.values() if p.status == TimePointStatus.SCHEDULED]
                for point in open_points:
                    point.status = TimePointStatus.CANCELLED
                    point.version += 1
                    point.save(update_fields=["status", "version"])
                if open_points:
                    cancelled += 1
                    audit(
                        actor,
                        category=Category.FOLLOWUP,
                        action=Action.UPDATE,
                        patient=Patient(pk=patient_id),
                        detail={"event": "follow-up cancelled", "plan": plan_id},
                    )
                continue
            first, last = series[plan_id]
            schedule = build_schedule(policy, first, last)
            new_rows: list[FollowUpTimePoint] = []
            moved = False
            for planned in schedule:
                found = points.get(planned.key)
                if found is None:
                    new_rows.append(
                        FollowUpTimePoint(
                            plan_id=plan_id,
                            patient_id=patient_id,
                            key=planned.key,
                            label=planned.label,
                            instruments=list(planned.instruments),
                            policy_version=policy.version,
                            created_at=now,
                            **_dates(planned),
                        )
                    )
                    continue
                point = found
                if point.status == TimePointStatus.COMPLETED:
                    continue
                dates = _dates(planned)
                reopened = point.status == TimePointStatus.CANCELLED
                if reopened or any(getattr(point, k) != v for k, v in dates.items()):
                    for name, value in dates.items():
                        setattr(point, name, value)
                    point.status = TimePointStatus.SCHEDULED
                    point.replanned_at = now
                    point.version += 1
                    point.save(update_fields=[*dates, "status", "replanned_at", "version"])
                    moved = True
            if new_rows:
                FollowUpTimePoint.objects.bulk_create(new_rows)
                created += 1
            if moved:
                replanned += 1
            if new_rows or moved:
                audit(
                    actor,
                    category=Category.FOLLOWUP,
                    action=Action.CREATE if new_rows and not points else Action.UPDATE,
                    patient=Patient(pk=patient_id),
                    detail={
                        "event": "follow-up planned" if not points else "follow-up re-planned",
                        "plan": plan_id,
                        "first_infusion": first.isoformat(),
                        "last_infusion": last.isoformat(),
                    },
                )
    return PlanningSummary(created=created, replanned=replanned, cancelled=cancelled)


def _email_consented(patient_ids: set[int]) -> set[int]:
    """Patients whose latest e-mail consent decision is 'granted'."""
    from painclinic.web.patients.models import Consent

    latest: dict[int, str] = {}
    rows = (
        Consent.objects.filter(patient_id__in=patient_ids, kind=ConsentKind.EMAIL)
        .order_by("patient_id", "-decided_on", "-id")
        .values_list("patient_id", "decision")
    )
    for patient_id, decision in rows:
        latest.setdefault(patient_id, decision)
    return {pid for pid, decision in latest.items() if decision == ConsentDecision.GRANTED}


@service(ROLES.send_reminders, category=Category.FOLLOWUP, action=Action.CREATE)
def do_queue_reminders(actor: Actor, now: dt.datetime) -> int:
    """Queue today's reminders: one per answerable time point whose reminder is due, only to a
    patient with an e-mail address who consented to e-mail. Returns how many were queued.

    Reminders left ``sending`` past the lease (the worker stopped mid-send) become
    ``unconfirmed`` here, each with an audit event, and are never sent again.
    """
    policy = _policy()
    local_now = to_local(now)
    today = local_now.date()
    with transaction.atomic():
        stale = list(
            Reminder.objects.select_for_update().filter(
                status=ReminderStatus.SENDING, claimed_at__lt=now - SENDING_LEASE
            )
        )
        for reminder in stale:
            reminder.status = ReminderStatus.UNCONFIRMED
            reminder.save(update_fields=["status"])
            audit(
                actor,
                category=Category.FOLLOWUP,
                action=Action.UPDATE,
                patient=Patient(pk=reminder.patient_id),
                obj=reminder,
                detail={"event": "reminder unconfirmed", "reminder": reminder.pk},
            )
        points = list(
            FollowUpTimePoint.objects.filter(
                status=TimePointStatus.SCHEDULED, opens_on__lte=today, closes_on__gte=today
            )
            .select_related("patient")
            .annotate(
                counted=Count("reminders", filter=Q(reminders__status__in=COUNTED)),
                last_day=Max("reminders__local_day"),
            )
        )
        consented = _email_consented({p.patient_id for p in points})
        queued = []
        for point in points:
            if point.patient_id not in consented or not point.patient.email:
                continue
            scheduled = ScheduledTimePoint(
                key=point.key,
                label=point.label,
                opens_on=point.opens_on,
                due_on=point.due_on,
                overdue_from=point.overdue_from,
                closes_on=point.closes_on,
                instruments=tuple(point.instruments),
            )
            decision = reminder_due(
                policy.reminders,
                scheduled,
                local_now.replace(tzinfo=None),
                completed=False,
                reminders_sent=point.counted,
                last_reminder_on=point.last_day,
            )
            if not decision.send:
                continue
            queued.append(
                Reminder(
                    time_point=point,
                    patient_id=point.patient_id,
                    local_day=today,
                    number=point.counted + 1,
                    status=ReminderStatus.QUEUED,
                    to_address=point.patient.email,
                    created_at=now,
                    created_by=actor.user,
                )
            )
        # A second worker's tick that got here first already queued today's: skip those.
        Reminder.objects.bulk_create(queued, ignore_conflicts=True)
        if queued:
            audit(
                actor,
                category=Category.FOLLOWUP,
                action=Action.CREATE,
                detail={
                    "event": "reminders queued",
                    "count": len(queued),
                    "day": today.isoformat(),
                },
            )
    return len(queued)


def _still_due(reminder: Reminder, today: dt.date) -> bool:
    point = reminder.time_point
    if point.status != TimePointStatus.SCHEDULED:
        return False
    scheduled = ScheduledTimePoint(
        key=point.key,
        label=point.label,
        opens_on=point.opens_on,
        due_on=point.due_on,
        overdue_from=point.overdue_from,
        closes_on=point.closes_on,
        instruments=tuple(point.instruments),
    )
    if window_state(scheduled, today) not in ANSWERABLE:
        return False
    return reminder.patient_id in _email_consented({reminder.patient_id})


@service(ROLES.send_reminders, category=Category.FOLLOWUP, action=Action.UPDATE)
def do_claim_reminder(actor: Actor, reminder_id: int, now: dt.datetime) -> ClaimedReminder | None:
    """Mark one reminder ``sending`` just before its e-mail goes (None: nothing to send).

    A reminder no longer due (answered, consent withdrawn, window closed) is ``withdrawn``
    instead. Another worker holding it, or a retry not yet due, leaves it alone.
    """
    with transaction.atomic():
        reminder = (
            Reminder.objects.select_for_update()
            .select_related("time_point", "patient")
            .filter(pk=reminder_id)
            .first()
        )
        if reminder is None or reminder.status not in (ReminderStatus.QUEUED, ReminderStatus.RETRY):
            return None
        if reminder.next_attempt_at is not None and reminder.next_attempt_at > now:
            return None
        if not _still_due(reminder, to_local(now).date()):
            reminder.status = ReminderStatus.WITHDRAWN
            reminder.save(update_fields=["status"])
            audit(
                actor,
                category=Category.FOLLOWUP,
                action=Action.UPDATE,
                patient=reminder.patient,
                obj=reminder,
                detail={"event": "reminder withdrawn", "reminder": reminder.pk},
            )
            return None
        reminder.status = ReminderStatus.SENDING
        reminder.attempts += 1
        reminder.claimed_at = now
        reminder.save(update_fields=["status", "attempts", "claimed_at"])
        patient = reminder.patient
        return ClaimedReminder(
            reminder_id=reminder.pk,
            to_address=reminder.to_address,
            patient_name=patient.preferred_name or patient.legal_given_name,
            time_point_label=reminder.time_point.label,
            closes_on=reminder.time_point.closes_on,
            number=reminder.number,
        )


@service(ROLES.send_reminders, category=Category.FOLLOWUP, action=Action.UPDATE)
def do_record_reminder_outcome(
    actor: Actor,
    reminder_id: int,
    now: dt.datetime,
    *,
    error: str = "",
    permanent: bool = False,
) -> str:
    """Record what became of a claimed reminder's e-mail; returns its new status.

    No error: ``sent``. A transient error: ``retry`` after the policy's back-off, or ``failed``
    once the retries are used up. A permanent error (the address was refused): ``failed``.
    """
    policy = _policy()
    with transaction.atomic():
        reminder = (
            Reminder.objects.select_for_update().select_related("patient").get(pk=reminder_id)
        )
        if reminder.status != ReminderStatus.SENDING:
            return str(reminder.status)
        if not error:
            reminder.status = ReminderStatus.SENT
            reminder.sent_at = now
            reminder.last_error = ""
            fields = ["status", "sent_at", "last_error"]
            event = "reminder sent"
        else:
            delay = None if permanent else retry_delay_minutes(policy.reminders, reminder.attempts)
            reminder.last_error = error[:300]
            if delay is None:
                reminder.status = ReminderStatus.FAILED
                reminder.next_attempt_at = None
                event = "reminder failed"
            else:
                reminder.status = ReminderStatus.RETRY
                reminder.next_attempt_at = now + dt.timedelta(minutes=delay)
                event = "reminder will be retried"
            fields = ["status", "last_error", "next_attempt_at"]
        reminder.save(update_fields=fields)
        audit(
            actor,
            category=Category.FOLLOWUP,
            action=Action.UPDATE,
            patient=reminder.patient,
            obj=reminder,
            detail={
                "event": event,
                "reminder": reminder.pk,
                "number": reminder.number,
                "attempt": reminder.attempts,
                **({"error": reminder.last_error} if error else {}),
            },
        )
        return str(reminder.status)


def sendable_reminder_ids(now: dt.datetime) -> list[int]:
    """Reminders waiting to be sent now (queued, or a retry whose back-off has passed)."""
    return list(
        Reminder.objects.filter(
            Q(status=ReminderStatus.QUEUED)
            | Q(status=ReminderStatus.RETRY, next_attempt_at__lte=now)
        )
        .order_by("id")
        .values_list("id", flat=True)
    )
