"""Follow-up services: plan each series' time points, queue reminders, record each e-mail.

Sending an e-mail cannot be part of a database transaction, so reminders go through three
committed steps, each its own service call (the worker in ``tasks.py`` calls them in turn, a
batch of up to ``REMINDER_BATCH`` reminders at a time):

1. :func:`do_queue_reminders` creates a ``queued`` reminder for each time point whose
   reminder is due (``clinical.followup.reminder_due``); the unique (time point, day) row makes
   a second worker or a second tick a no-op;
2. :func:`do_claim_reminders` marks a batch ``sending`` and issues each its single-use link
   (one transaction) just before the e-mails go;
3. :func:`do_record_reminder_outcomes` marks each ``sent``, ``retry`` (a transient failure,
   with the policy's back-off) or ``failed`` (one transaction).

A worker that stops between 2 and 3 leaves its batch ``sending`` (up to ``REMINDER_BATCH``
reminders, some of which may have reached the patient): the next tick after the lease marks
them ``unconfirmed`` and never sends them again, so no patient gets the same reminder twice;
staff see it on the patient's follow-up. Every step writes one audit event per patient it
touched (the audit report and the portal's access log filter by patient), appended as one
batch (``audit.services.audit_each``: one chain lock and one INSERT per batch).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Max, Min, Q
from django.utils import timezone

from painclinic.clinical.errors import ClinicalInputError
from painclinic.clinical.escalation import CrisisResource, load_escalation_policy
from painclinic.clinical.followup import (
    ANSWERABLE,
    FollowUpPolicy,
    ScheduledTimePoint,
    WindowState,
    build_schedule,
    load_followup_policy,
    reminder_due,
    retry_delay_minutes,
    window_state,
)
from painclinic.clinical.instruments import ItemKind, ItemSpec, answers_from_items, template
from painclinic.clinical.instruments import score as clinical_score
from painclinic.web.accounts.models import Role
from painclinic.web.audit.services import Action, Category, audit, audit_each
from painclinic.web.followup.escalation import escalate_submission
from painclinic.web.followup.models import (
    AnswerChannel,
    FollowUpLink,
    FollowUpResponse,
    FollowUpTimePoint,
    Reminder,
    ReminderStatus,
    ResponseStatus,
    TimePointStatus,
)
from painclinic.web.followup.roles import ROLES
from painclinic.web.lib.clinictime import to_local
from painclinic.web.lib.service import Actor, Refused, note_subject, service
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
# The most reminders one batch claims, e-mails and records (each step one transaction): a
# worker killed mid-batch leaves at most this many ``sending``, then ``unconfirmed``.
REMINDER_BATCH = 200
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
    time_point_id: int
    to_address: str
    patient_name: str
    time_point_label: str
    closes_on: dt.date
    number: int
    # The single-use link's token (only its hash is stored), when one was issued with it.
    link_token: str | None = None


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
    all_new: list[FollowUpTimePoint] = []
    events: list[tuple[str, tuple[Any, Any, dict[str, Any]]]] = []
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
                    events.append(
                        (
                            Action.UPDATE,
                            (
                                Patient(pk=patient_id),
                                None,
                                {"event": "follow-up cancelled", "plan": plan_id},
                            ),
                        )
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
                all_new.extend(new_rows)
                created += 1
            if moved:
                replanned += 1
            if new_rows or moved:
                events.append(
                    (
                        Action.CREATE if new_rows and not points else Action.UPDATE,
                        (
                            Patient(pk=patient_id),
                            None,
                            {
                                "event": "follow-up planned"
                                if not points
                                else "follow-up re-planned",
                                "plan": plan_id,
                                "first_infusion": first.isoformat(),
                                "last_infusion": last.isoformat(),
                            },
                        ),
                    )
                )
        FollowUpTimePoint.objects.bulk_create(all_new, batch_size=1000)
        # One audit event per series, written in one batch per action, in plan order.
        for action in (Action.CREATE, Action.UPDATE):
            audit_each(
                actor,
                category=Category.FOLLOWUP,
                action=action,
                events=[event for kind, event in events if kind == action],
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
        if stale:
            Reminder.objects.filter(pk__in=[r.pk for r in stale]).update(
                status=ReminderStatus.UNCONFIRMED
            )
        audit_each(
            actor,
            category=Category.FOLLOWUP,
            action=Action.UPDATE,
            events=[
                (
                    Patient(pk=r.patient_id),
                    r,
                    {"event": "reminder unconfirmed", "reminder": r.pk},
                )
                for r in stale
            ],
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
            scheduled = scheduled_of(point)
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


def _still_due(reminder: Reminder, today: dt.date, consented: set[int]) -> bool:
    """Still worth sending: its time point answerable today and e-mail consent standing."""
    point = reminder.time_point
    if point.status != TimePointStatus.SCHEDULED:
        return False
    scheduled = scheduled_of(point)
    if window_state(scheduled, today) not in ANSWERABLE:
        return False
    return reminder.patient_id in consented


def _withdraw(actor: Actor, reminders: list[Reminder]) -> None:
    if not reminders:
        return
    Reminder.objects.filter(pk__in=[r.pk for r in reminders]).update(
        status=ReminderStatus.WITHDRAWN
    )
    audit_each(
        actor,
        category=Category.FOLLOWUP,
        action=Action.UPDATE,
        events=[
            (r.patient, r, {"event": "reminder withdrawn", "reminder": r.pk}) for r in reminders
        ],
    )


def _issue_links(actor: Actor, reminders: list[Reminder], now: dt.datetime) -> dict[int, str]:
    """A new single-use link for each claimed reminder's time point (older ones stop working),
    one audit event per patient; returns {reminder id: token}."""
    point_ids = [r.time_point_id for r in reminders]
    open_links = FollowUpLink.objects.filter(
        time_point_id__in=point_ids, used_at__isnull=True, revoked_at__isnull=True
    )
    revoked = dict(
        open_links.values("time_point_id").annotate(n=Count("id")).values_list("time_point_id", "n")
    )
    if revoked:
        open_links.update(revoked_at=now)
    tokens = [secrets.token_urlsafe(LINK_TOKEN_BYTES) for _ in reminders]
    links = FollowUpLink.objects.bulk_create(
        [
            FollowUpLink(
                time_point_id=r.time_point_id,
                token_sha256=link_token_hash(token),
                created_at=now,
                expires_at=min(now + link_lifetime(), _end_of_day(r.time_point.closes_on)),
            )
            for r, token in zip(reminders, tokens, strict=True)
        ]
    )
    audit_each(
        actor,
        category=Category.FOLLOWUP,
        action=Action.CREATE,
        events=[
            (
                reminder.patient,
                link,
                {
                    "event": "questionnaire link issued",
                    "time_point": reminder.time_point.key,
                    "reminder": reminder.pk,
                    "expires_at": link.expires_at.isoformat(),
                    "older_links_revoked": revoked.get(reminder.time_point_id, 0),
                },
            )
            for reminder, link in zip(reminders, links, strict=True)
        ],
    )
    return {r.pk: token for r, token in zip(reminders, tokens, strict=True)}


def _claim(
    actor: Actor, reminder_ids: Sequence[int], now: dt.datetime, *, issue_links: bool
) -> list[ClaimedReminder]:
    """Mark the sendable reminders among ``reminder_ids`` ``sending`` in one transaction."""
    if len(reminder_ids) > REMINDER_BATCH:
        raise Refused(f"Claim at most {REMINDER_BATCH} reminders at a time.", "reminder_ids")
    today = to_local(now).date()
    with transaction.atomic():
        reminders = list(
            Reminder.objects.select_for_update()
            .select_related("time_point", "patient")
            .filter(
                pk__in=list(reminder_ids),
                status__in=(ReminderStatus.QUEUED, ReminderStatus.RETRY),
            )
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .order_by("pk")
        )
        consented = _email_consented({r.patient_id for r in reminders})
        withdrawn: list[Reminder] = []
        claimed: list[Reminder] = []
        points: set[int] = set()
        for reminder in reminders:
            if not _still_due(reminder, today, consented):
                withdrawn.append(reminder)
            elif reminder.time_point_id not in points:  # one link per time point per batch
                points.add(reminder.time_point_id)
                claimed.append(reminder)
        _withdraw(actor, withdrawn)
        if not claimed:
            return []
        Reminder.objects.filter(pk__in=[r.pk for r in claimed]).update(
            status=ReminderStatus.SENDING, attempts=F("attempts") + 1, claimed_at=now
        )
        tokens = _issue_links(actor, claimed, now) if issue_links else {}
    return [
        ClaimedReminder(
            reminder_id=r.pk,
            time_point_id=r.time_point_id,
            to_address=r.to_address,
            patient_name=r.patient.preferred_name or r.patient.legal_given_name,
            time_point_label=r.time_point.label,
            closes_on=r.time_point.closes_on,
            number=r.number,
            link_token=tokens.get(r.pk),
        )
        for r in claimed
    ]


@service(ROLES.send_reminders, category=Category.FOLLOWUP, action=Action.UPDATE)
def do_claim_reminders(
    actor: Actor, reminder_ids: Sequence[int], now: dt.datetime
) -> list[ClaimedReminder]:
    """Claim a batch of reminders (at most ``REMINDER_BATCH``) just before their e-mails go,
    and issue each its single-use link, in one transaction.

    Each sendable one becomes ``sending`` and gets a new link to its time point (older links
    stop working); one audit event per patient records the link. A reminder no longer due
    (answered, consent withdrawn, window closed) is ``withdrawn`` instead, audited. Another
    worker's claim, or a retry whose back-off has not passed, leaves a reminder alone; so does
    a second reminder of a time point already in the batch (it waits for the next batch).
    """
    return _claim(actor, reminder_ids, now, issue_links=True)


@service(ROLES.send_reminders, category=Category.FOLLOWUP, action=Action.UPDATE)
def do_claim_reminder(actor: Actor, reminder_id: int, now: dt.datetime) -> ClaimedReminder | None:
    """Mark one reminder ``sending`` (no link; None: nothing to send), as
    :func:`do_claim_reminders` does for a batch."""
    claimed = _claim(actor, [reminder_id], now, issue_links=False)
    return claimed[0] if claimed else None


@dataclass(frozen=True)
class ReminderOutcome:
    """What became of one claimed reminder's e-mail: no error (sent), a transient error, or a
    permanent one (the address was refused)."""

    reminder_id: int
    error: str = ""
    permanent: bool = False


def _record(actor: Actor, outcomes: Sequence[ReminderOutcome], now: dt.datetime) -> dict[int, str]:
    policy = _policy()
    by_id = {o.reminder_id: o for o in outcomes}
    statuses: dict[int, str] = {}
    with transaction.atomic():
        reminders = list(
            Reminder.objects.select_for_update()
            .select_related("patient")
            .filter(pk__in=list(by_id))
            .order_by("pk")
        )
        changed: list[Reminder] = []
        events: list[tuple[Any, Any, dict[str, Any]]] = []
        for reminder in reminders:
            outcome = by_id[reminder.pk]
            if reminder.status != ReminderStatus.SENDING:
                statuses[reminder.pk] = str(reminder.status)
                continue
            if not outcome.error:
                reminder.status = ReminderStatus.SENT
                reminder.sent_at = now
                reminder.last_error = ""
                event = "reminder sent"
            else:
                delay = (
                    None
                    if outcome.permanent
                    else retry_delay_minutes(policy.reminders, reminder.attempts)
                )
                reminder.last_error = outcome.error[:300]
                if delay is None:
                    reminder.status = ReminderStatus.FAILED
                    reminder.next_attempt_at = None
                    event = "reminder failed"
                else:
                    reminder.status = ReminderStatus.RETRY
                    reminder.next_attempt_at = now + dt.timedelta(minutes=delay)
                    event = "reminder will be retried"
            changed.append(reminder)
            statuses[reminder.pk] = str(reminder.status)
            events.append(
                (
                    reminder.patient,
                    reminder,
                    {
                        "event": event,
                        "reminder": reminder.pk,
                        "number": reminder.number,
                        "attempt": reminder.attempts,
                        **({"error": reminder.last_error} if outcome.error else {}),
                    },
                )
            )
        audit_each(actor, category=Category.FOLLOWUP, action=Action.UPDATE, events=events)
        Reminder.objects.bulk_update(
            changed, ["status", "sent_at", "last_error", "next_attempt_at"], batch_size=500
        )
    return statuses


@service(ROLES.send_reminders, category=Category.FOLLOWUP, action=Action.UPDATE)
def do_record_reminder_outcomes(
    actor: Actor, outcomes: Sequence[ReminderOutcome], now: dt.datetime
) -> dict[int, str]:
    """Record what became of a batch of claimed reminders' e-mails in one transaction, one
    audit event per patient; returns {reminder id: new status}.

    No error: ``sent``. A transient error: ``retry`` after the policy's back-off, or ``failed``
    once the retries are used up. A permanent error (the address was refused): ``failed``. A
    reminder no longer ``sending`` (marked unconfirmed meanwhile) keeps its status.
    """
    return _record(actor, outcomes, now)


@service(ROLES.send_reminders, category=Category.FOLLOWUP, action=Action.UPDATE)
def do_record_reminder_outcome(
    actor: Actor,
    reminder_id: int,
    now: dt.datetime,
    *,
    error: str = "",
    permanent: bool = False,
) -> str:
    """Record what became of one claimed reminder's e-mail (see
    :func:`do_record_reminder_outcomes`); returns its new status."""
    statuses = _record(actor, [ReminderOutcome(reminder_id, error, permanent)], now)
    return statuses.get(reminder_id, "")


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


# --- answers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmittedTimePoint:
    """What a submission recorded: each questionnaire's score, for the confirmation page and
    for the checks that follow it (safety escalation, outcomes)."""

    time_point_id: int
    patient_id: int
    results: dict[str, dict[str, Any]]
    # True when an answer calls for the crisis resources at once (PHQ-9 item 9 above 0, or a
    # severe PHQ-9): the confirmation page shows ``followup/_crisis.html``. The reasons are in
    # plain words for the patient (no rule ids).
    crisis: bool = False
    crisis_reasons: tuple[str, ...] = ()
    # The crisis resources to show (Canada: 9-8-8, 911; ``escalation_policy.json``) and the
    # plain-words notices of the less urgent findings ("the clinic will contact you").
    crisis_resources: tuple[CrisisResource, ...] = ()
    notices: tuple[str, ...] = ()


def _point_for(actor: Actor, time_point_id: int, *, lock: bool = False) -> FollowUpTimePoint:
    """The time point if the actor may answer it: the patient their own, staff any."""
    from django.core.exceptions import PermissionDenied

    query = FollowUpTimePoint.objects.select_related("patient")
    if lock:
        query = query.select_for_update()
    point = query.filter(pk=time_point_id).first()
    if point is None:
        raise Refused("That questionnaire does not exist.", "time_point")
    if actor.role == Role.PATIENT and point.patient.portal_user_id != actor.user.pk:
        raise PermissionDenied("a patient answers only their own questionnaires")
    note_subject(patient=point.patient, obj=point)
    return point


def _answerable(point: FollowUpTimePoint, today: dt.date) -> None:
    if point.status == TimePointStatus.COMPLETED:
        raise Refused("These questionnaires were already submitted. Thank you.", "time_point")
    if point.status == TimePointStatus.CANCELLED:
        raise Refused("These questionnaires are no longer needed.", "time_point")
    state = window_state(scheduled_of(point), today)
    if state not in ANSWERABLE:
        when = "is not open yet" if state == WindowState.UPCOMING else "has closed"
        raise Refused(f"This questionnaire {when}.", "time_point")


def scheduled_of(point: FollowUpTimePoint) -> ScheduledTimePoint:
    """A stored time point as the clinical core's schedule entry (for its window rules)."""
    return ScheduledTimePoint(
        key=point.key,
        label=point.label,
        opens_on=point.opens_on,
        due_on=point.due_on,
        overdue_from=point.overdue_from,
        closes_on=point.closes_on,
        instruments=tuple(point.instruments),
    )


def _channel_for(actor: Actor, channel: str) -> str:
    staff_channels = (AnswerChannel.PHONE, AnswerChannel.CLINIC)
    patient_channels = (AnswerChannel.PORTAL, AnswerChannel.LINK)
    allowed = patient_channels if actor.role == Role.PATIENT else staff_channels
    if channel not in allowed:
        raise Refused("Say how the answers were given.", "channel")
    return channel


def item_problem(spec: ItemSpec, value: Any) -> str | None:
    """Why ``value`` cannot answer ``spec`` (None when it can; None clears an answer)."""
    if value is None:
        return None
    if spec.kind is ItemKind.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            return "Choose a whole number."
        assert spec.minimum is not None and spec.maximum is not None
        if not spec.minimum <= value <= spec.maximum or (value - spec.minimum) % spec.step:
            return f"Choose a number from {spec.minimum} to {spec.maximum}."
        return None
    if spec.kind is ItemKind.BOOLEAN:
        return None if isinstance(value, bool) else "Answer yes or no."
    allowed = [option for option, _label in spec.options]
    return None if value in allowed else "Choose one of the answers offered."


@service(ROLES.answer_followup, category=Category.FOLLOWUP, action=Action.UPDATE)
def do_save_answer(
    actor: Actor,
    time_point_id: int,
    instrument: str,
    item_key: str,
    value: Any,
    channel: str,
    now: dt.datetime | None = None,
) -> FollowUpResponse:
    """Save one answer as it is given (a dropped connection loses nothing already answered).

    The answer is checked against the questionnaire's item (range, step, allowed choices) and
    refused naming the item; the time point must be open, due or overdue and not submitted.
    """
    now = now or timezone.now()
    channel = _channel_for(actor, channel)
    with transaction.atomic():
        point = _point_for(actor, time_point_id, lock=True)
        _answerable(point, to_local(now).date())
        if instrument not in point.instruments:
            raise Refused("That questionnaire is not part of this follow-up.", "instrument")
        specs = {spec.key: spec for spec in template(instrument).items}
        spec = specs.get(item_key)
        if spec is None:
            raise Refused("That question is not part of this questionnaire.", "item")
        problem = item_problem(spec, value)
        if problem:
            raise Refused(problem, item_key)
        response, created = FollowUpResponse.objects.select_for_update().get_or_create(
            time_point=point,
            instrument=instrument,
            defaults={
                "patient_id": point.patient_id,
                "channel": channel,
                "entered_by": None if actor.role == Role.PATIENT else actor.user,
                "started_at": now,
                "updated_at": now,
            },
        )
        response.answers = {**response.answers, item_key: value}
        response.updated_at = now
        response.version += 0 if created else 1
        response.save(update_fields=["answers", "updated_at", "version"])
        if created:
            audit(
                actor,
                category=Category.FOLLOWUP,
                action=Action.CREATE,
                patient=point.patient,
                obj=response,
                detail={
                    "event": "questionnaire started",
                    "time_point": point.key,
                    "instrument": instrument,
                    "channel": channel,
                },
            )
        return response


def nested_answers(instrument: str, flat: dict[str, Any]) -> dict[str, Any]:
    """Answers saved item by item (``"items[3]": 2``) as the instrument's answers JSON."""
    return answers_from_items(instrument, flat)


def unanswered(instrument: str, flat: dict[str, Any]) -> list[ItemSpec]:
    """The questions of ``instrument`` still to answer (optional ones never are)."""
    return [
        spec
        for spec in template(instrument).items
        if not spec.optional and flat.get(spec.key) is None
    ]


@service(ROLES.answer_followup, category=Category.FOLLOWUP, action=Action.UPDATE)
def do_submit_time_point(
    actor: Actor, time_point_id: int, channel: str, now: dt.datetime | None = None
) -> SubmittedTimePoint:
    """Score every questionnaire of the time point and mark it completed, in one transaction.

    Refused, naming the questionnaire, while a required question is unanswered. Reminders
    still queued for the time point are withdrawn when the worker next looks at them.
    """
    now = now or timezone.now()
    channel = _channel_for(actor, channel)
    with transaction.atomic():
        point = _point_for(actor, time_point_id, lock=True)
        _answerable(point, to_local(now).date())
        responses = {
            r.instrument: r
            for r in FollowUpResponse.objects.select_for_update().filter(time_point=point)
        }
        results: dict[str, dict[str, Any]] = {}
        for instrument in point.instruments:
            response = responses.get(instrument)
            flat = response.answers if response else {}
            missing = unanswered(instrument, flat)
            if response is None or missing:
                title = template(instrument).title
                raise Refused(
                    f"{title}: {len(missing) or 'every'} question(s) still to answer.", instrument
                )
            answers = nested_answers(instrument, flat)
            try:
                scored = clinical_score(instrument, answers)
            except ClinicalInputError as error:
                raise Refused(error.message, instrument) from None
            response.result = scored.to_dict()
            response.score = None if scored.score is None else float(scored.score)
            response.band = scored.band or ""
            response.flags = list(scored.flags)
            response.status = ResponseStatus.SUBMITTED
            response.submitted_at = now
            response.channel = channel
            if actor.role != Role.PATIENT:
                response.entered_by = actor.user
            response.version += 1
            response.save()
            results[instrument] = {
                "score": response.score,
                "band": response.band,
                "flags": response.flags,
                "answers": answers,
            }
        point.status = TimePointStatus.COMPLETED
        point.completed_at = now
        point.version += 1
        point.save(update_fields=["status", "completed_at", "version"])
        audit(
            actor,
            category=Category.FOLLOWUP,
            action=Action.UPDATE,
            patient=point.patient,
            obj=point,
            detail={
                "event": "follow-up submitted",
                "time_point": point.key,
                "channel": channel,
                "scores": {k: v["score"] for k, v in results.items()},
            },
        )
        # Safety escalation (issue 12 item 4): a worklist task in this same transaction.
        escalation = escalate_submission(actor, point, results, now)
    return SubmittedTimePoint(
        time_point_id=point.pk,
        patient_id=point.patient_id,
        results=results,
        crisis=escalation.crisis,
        crisis_reasons=escalation.crisis_reasons,
        crisis_resources=load_escalation_policy().crisis_resources if escalation.crisis else (),
        notices=escalation.notices,
    )


# --- single-use links ----------------------------------------------------------------------

# The one message a link that cannot be used shows, whatever the reason (used, expired,
# replaced by a newer link, or never issued): the page reveals nothing about which.
LINK_GONE = "This link no longer works. Sign in to the patient portal or call the clinic."
# 32 random bytes (256 bits) from ``secrets``: guessing a live token is out of reach, so a
# failed attempt needs no lock-out; each one is audited.
LINK_TOKEN_BYTES = 32


def link_token_hash(token: str) -> str:
    """The stored form of a link's token (the token itself is never stored)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def link_lifetime() -> dt.timedelta:
    """How long a new link works (clinic policy ``PAINCLINIC_FOLLOWUP_LINK_HOURS``, 72 h)."""
    return dt.timedelta(hours=int(getattr(settings, "FOLLOWUP_LINK_HOURS", 72)))


def _end_of_day(day: dt.date) -> dt.datetime:
    """The first instant after the clinic-local ``day`` (a window closes at the day's end)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(settings.TIME_ZONE)
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=zone)


@dataclass(frozen=True)
class IssuedLink:
    """A new link: ``token`` is shown once (in the e-mail) and stored only as its hash."""

    link_id: int
    time_point_id: int
    token: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class OpenedLink:
    """A link that works: whose and which time point it opens, and who acts through it."""

    link_id: int
    time_point_id: int
    patient_id: int
    user_id: int


def link_problem(link: FollowUpLink | None, now: dt.datetime) -> str | None:
    """Why ``link`` cannot be used now (for the audit only; the page shows ``LINK_GONE``)."""
    if link is None:
        return "unknown"
    if link.used_at is not None:
        return "used"
    if link.revoked_at is not None:
        return "replaced by a newer link"
    if link.expires_at <= now:
        return "expired"
    if link.time_point.status != TimePointStatus.SCHEDULED:
        return "follow-up no longer open"
    return None


@service(ROLES.issue_link, category=Category.FOLLOWUP, action=Action.CREATE)
def do_issue_link(actor: Actor, time_point_id: int, now: dt.datetime | None = None) -> IssuedLink:
    """A new single-use link to one time point's questionnaires; older ones stop working.

    It expires after the clinic's link lifetime, never after the time point closes; the time
    point must be answerable now. Only the token's SHA-256 is stored.
    """
    now = now or timezone.now()
    with transaction.atomic():
        point = (
            FollowUpTimePoint.objects.select_for_update()
            .select_related("patient")
            .filter(pk=time_point_id)
            .first()
        )
        if point is None:
            raise Refused("That questionnaire does not exist.", "time_point")
        note_subject(patient=point.patient, obj=point)
        _answerable(point, to_local(now).date())
        revoked = FollowUpLink.objects.filter(
            time_point=point, used_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        token = secrets.token_urlsafe(LINK_TOKEN_BYTES)
        expires_at = min(now + link_lifetime(), _end_of_day(point.closes_on))
        link = FollowUpLink.objects.create(
            time_point=point,
            token_sha256=link_token_hash(token),
            created_at=now,
            expires_at=expires_at,
        )
        audit(
            actor,
            category=Category.FOLLOWUP,
            action=Action.CREATE,
            patient=point.patient,
            obj=link,
            detail={
                "event": "questionnaire link issued",
                "time_point": point.key,
                "expires_at": expires_at.isoformat(),
                "older_links_revoked": revoked,
            },
        )
    return IssuedLink(link_id=link.pk, time_point_id=point.pk, token=token, expires_at=expires_at)


@service(ROLES.open_link, category=Category.FOLLOWUP, action=Action.VIEW)
def do_open_link(actor: Actor, token: str, now: dt.datetime | None = None) -> OpenedLink:
    """Check a link's token (the system actor, for a visitor who is not signed in).

    A link that cannot be used is refused with the same message whatever the reason (the
    reason goes to the audit event only). A patient without a portal account gets one with an
    unusable password (they can be invited to set one later), audited.
    """
    from painclinic.web.accounts.models import User

    now = now or timezone.now()
    digest = link_token_hash(token) if 20 <= len(token) <= 100 else ""
    with transaction.atomic():
        link = (
            FollowUpLink.objects.select_for_update()
            .select_related("time_point__patient")
            .filter(token_sha256=digest)
            .first()
            if digest
            else None
        )
        problem = link_problem(link, now)
        if link is not None:
            note_subject(patient=link.time_point.patient, obj=link)
        if problem is not None:
            raise Refused(LINK_GONE, "link", detail={"reason": problem})
        assert link is not None
        patient = link.time_point.patient
        if patient.portal_user_id is None:
            user = User(
                username=f"patient-{patient.pk}-{secrets.token_hex(4)}",
                role=Role.PATIENT,
                first_name=patient.preferred_name or patient.legal_given_name,
                last_name=patient.legal_family_name,
                email=patient.email,
            )
            user.set_unusable_password()
            user.save()
            patient.portal_user = user
            patient.save(update_fields=["portal_user"])
            audit(
                actor,
                category=Category.ACCOUNT,
                action=Action.CREATE,
                patient=patient,
                obj=user,
                detail={"event": "portal account created for a questionnaire link"},
            )
        audit(
            actor,
            category=Category.FOLLOWUP,
            action=Action.VIEW,
            patient=patient,
            obj=link,
            detail={"event": "questionnaire link opened", "time_point": link.time_point.key},
        )
        assert patient.portal_user_id is not None
        return OpenedLink(
            link_id=link.pk,
            time_point_id=link.time_point_id,
            patient_id=patient.pk,
            user_id=patient.portal_user_id,
        )


def link_still_works(link_id: int, time_point_id: int, user_id: int, now: dt.datetime) -> bool:
    """Whether a link session may go on (each page of a link session asks)."""
    link = (
        FollowUpLink.objects.select_related("time_point__patient")
        .filter(pk=link_id, time_point_id=time_point_id)
        .first()
    )
    if link is None or link.time_point.patient.portal_user_id != user_id:
        return False
    return link_problem(link, now) is None


@service(ROLES.submit_through_link, category=Category.FOLLOWUP, action=Action.UPDATE)
def do_submit_through_link(
    actor: Actor, link_id: int, now: dt.datetime | None = None
) -> SubmittedTimePoint:
    """Submit the link's time point (the patient, through the link) and use the link up."""
    from django.core.exceptions import PermissionDenied

    now = now or timezone.now()
    with transaction.atomic():
        link = (
            FollowUpLink.objects.select_for_update()
            .select_related("time_point__patient")
            .filter(pk=link_id)
            .first()
        )
        if link is None:
            raise Refused(LINK_GONE, "link", detail={"reason": "unknown"})
        if link.time_point.patient.portal_user_id != actor.user.pk:
            raise PermissionDenied("a link is used only by its own patient")
        note_subject(patient=link.time_point.patient, obj=link)
        problem = link_problem(link, now)
        if problem is not None:
            raise Refused(LINK_GONE, "link", detail={"reason": problem})
        submitted = do_submit_time_point(actor, link.time_point_id, AnswerChannel.LINK, now)
        link.used_at = now
        link.save(update_fields=["used_at"])
        audit(
            actor,
            category=Category.FOLLOWUP,
            action=Action.UPDATE,
            patient=link.time_point.patient,
            obj=link,
            detail={"event": "questionnaire link used", "time_point": link.time_point.key},
        )
    return submitted
