"""Chair bookings: series proposals, conflict detection, booking, rescheduling, cancellation.

Every state change is one ``transaction.atomic()`` block holding the locks, the checks, the
writes and their audit events, so a series is booked entirely or not at all.

Times: the front desk enters a clinic-local date and wall time; ``clinictime.to_utc`` turns it
into a UTC instant (refusing a wall time that a daylight-saving change skips or repeats) and the
session's duration is added to that instant. Opening hours are clinic-local wall times.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.lib.clinictime import LocalTimeError, local_day_bounds, to_local, to_utc
from painclinic.web.lib.rowreads import joined_rows
from painclinic.web.lib.service import Actor, Refused, StaleVersion, note_subject, service
from painclinic.web.patients.models import Patient
from painclinic.web.scheduling.models import (
    Booking,
    BookingStatus,
    Chair,
    ClinicClosure,
    OpeningHours,
)
from painclinic.web.scheduling.roles import ROLES
from painclinic.web.treatments.coverage import ConsentCoverage, plan_consent_coverage
from painclinic.web.treatments.models import PlannedSession, PlanStatus, TreatmentPlan

CATEGORY = Category.SCHEDULING

# Bookings that occupy a chair and a patient.
OCCUPYING = (BookingStatus.BOOKED, BookingStatus.COMPLETED)
# No booking is longer than this, so an overlap search can bound ``starts_at`` on both sides
# and use the (chair, starts_at) / starts_at indexes instead of scanning all past bookings.
MAX_BOOKING = dt.timedelta(hours=24)
# How far a session may be pushed past closed days before the proposal gives up.
MAX_SHIFT_DAYS = 21
# Infusion states in which the booking can no longer be moved or cancelled from the desk.
STARTED_SESSION_STATUSES = frozenset({"running", "paused", "stopped", "discharged", "signed"})


@dataclass
class Problem:
    field: str | None  # form field the message belongs on (None: the whole form)
    message: str
    booking: Booking | None = None  # the conflicting booking, if any


class SchedulingError(Refused):
    """One or more reasons a booking is refused; nothing was saved.

    Raised as ``SchedulingError(message, field)`` for one reason, or
    ``SchedulingError.listing(problems)`` for several (a series with conflicts): ``problems``
    lists every reason with the form field it belongs on, ``message`` joins them and ``field``
    is their field when they all share one. The conflicting bookings go into the audit detail.
    """

    def __init__(
        self,
        message: str,
        field: str | None = None,
        *,
        detail: Mapping[str, Any] | None = None,
        problems: Sequence[Problem] = (),
    ) -> None:
        super().__init__(message, field, detail=detail)
        self.problems = list(problems) or [Problem(field, message)]

    @classmethod
    def listing(cls, problems: Sequence[Problem]) -> SchedulingError:
        problems = list(problems)
        fields = {p.field for p in problems}
        detail: dict[str, Any] = {}
        if len(problems) > 1:
            detail["problems"] = [p.message for p in problems]
        conflicts = sorted({p.booking.pk for p in problems if p.booking is not None})
        if conflicts:
            detail["conflicting_booking_ids"] = conflicts
        return cls(
            "; ".join(p.message for p in problems),
            fields.pop() if len(fields) == 1 else None,
            detail=detail,
            problems=problems,
        )


class BookingEditConflict(StaleVersion):
    """Someone changed the booking after this person opened it (``current`` is it now)."""

    def __init__(self, current: Booking, expected_version: int) -> None:
        super().__init__(
            "the booking changed while you were editing it",
            obj=current,
            patient=current.patient,
            expected_version=expected_version,
            current_version=current.version,
            changes=[f"status: {current.get_status_display().lower()}"]
            if current.status != BookingStatus.BOOKED
            else (),
        )
        self.current = current


# --- opening hours ----------------------------------------------------------------------------


def hours_on(chair: Chair, day: dt.date) -> list[tuple[dt.time, dt.time]]:
    """The chair's open periods on ``day`` (clinic-local wall times), earliest first."""
    rows = getattr(chair, "active_hours", None)
    if rows is None:
        rows = list(chair.opening_hours.filter(active=True))
    return sorted((h.opens, h.closes) for h in rows if h.weekday == day.weekday() and h.active)


def open_weekdays(chair: Chair) -> set[int]:
    rows = getattr(chair, "active_hours", None)
    if rows is None:
        rows = list(chair.opening_hours.filter(active=True))
    return {h.weekday for h in rows if h.active}


def with_active_hours(queryset: QuerySet[Chair]) -> QuerySet[Chair]:
    from django.db.models import Prefetch

    return queryset.prefetch_related(
        Prefetch(
            "opening_hours",
            queryset=OpeningHours.objects.filter(active=True),
            to_attr="active_hours",
        )
    )


# --- series dates -----------------------------------------------------------------------------


def closures_between(first: dt.date, last: dt.date) -> dict[dt.date, str]:
    """Active clinic closures in [first, last], date -> reason."""
    return dict(
        ClinicClosure.objects.filter(active=True, date__gte=first, date__lte=last).values_list(
            "date", "reason"
        )
    )


def series_dates(
    day_offsets: Sequence[int],
    first_date: dt.date,
    open_days: Iterable[int],
    closed_dates: Iterable[dt.date] = (),
) -> list[dt.date]:
    """Translate plan day offsets into clinic dates.

    Session *i* is planned ``day_offset[i]`` calendar days after the first. It goes on that date
    if the chair is open that weekday; otherwise on the next open day, and every later session
    moves by the same delay, so the planned gaps between sessions are kept (never shortened).
    A 5-session plan with offsets 0-4 starting on a Thursday therefore lands on Thu, Fri, Mon,
    Tue, Wed: five consecutive clinic weekdays. Weekly offsets (0, 7, 14) stay on one weekday.
    ``first_date`` itself must be an open day. Clinic closures (``closed_dates``, e.g. statutory
    holidays) count as closed days.
    """
    weekdays = set(open_days)
    closed = set(closed_dates)

    def is_open(day: dt.date) -> bool:
        return day.weekday() in weekdays and day not in closed

    if not weekdays:
        raise SchedulingError("This chair has no opening hours.", "chair")
    if not is_open(first_date):
        why = "the clinic" if first_date in closed else "the chair"
        raise SchedulingError(f"{why.capitalize()} is closed on {first_date:%A %Y-%m-%d}.", "date")
    dates: list[dt.date] = []
    shift = 0
    base_offset = day_offsets[0] if day_offsets else 0
    for offset in day_offsets:
        day = first_date + dt.timedelta(days=offset - base_offset + shift)
        if dates and day <= dates[-1]:
            day = dates[-1] + dt.timedelta(days=1)
        start = day
        while not is_open(day):
            day += dt.timedelta(days=1)
            if (day - start).days > MAX_SHIFT_DAYS:  # pragma: no cover - guarded above
                raise SchedulingError("No open day found.", "date")
        shift += (day - start).days
        dates.append(day)
    return dates


# --- conflicts --------------------------------------------------------------------------------


def describe(booking: Booking) -> str:
    start = to_local(booking.starts_at)
    end = to_local(booking.ends_at)
    return (
        f"booking #{booking.pk} ({booking.patient.full_name}, {booking.chair.name}, "
        f"{start:%a %Y-%m-%d %H:%M}–{end:%H:%M})"
    )


def _occupying() -> QuerySet[Booking]:
    return Booking.objects.filter(status__in=OCCUPYING).select_related("patient", "chair")


def overlapping_bookings(starts_at: dt.datetime, ends_at: dt.datetime) -> QuerySet[Booking]:
    """Occupying bookings overlapping [starts_at, ends_at); touching end-to-start is not."""
    return _occupying().filter(
        starts_at__lt=ends_at, starts_at__gt=starts_at - MAX_BOOKING, ends_at__gt=starts_at
    )


@dataclass
class Slot:
    """One proposed booking (a series is a list of these)."""

    day: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    planned_session: PlannedSession | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def local_start(self) -> dt.datetime:
        return to_local(self.starts_at)

    @property
    def local_end(self) -> dt.datetime:
        return to_local(self.ends_at)

    @property
    def duration_min(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


def make_slot(
    day: dt.date, start: dt.time, duration_min: int, planned: PlannedSession | None = None
) -> Slot:
    try:
        starts_at = to_utc(day, start)
    except LocalTimeError as error:
        placeholder = dt.datetime.combine(day, start, tzinfo=dt.UTC)
        slot = Slot(day, placeholder, placeholder, planned)
        slot.problems.append(Problem("start_time", str(error)))
        return slot
    return Slot(day, starts_at, starts_at + dt.timedelta(minutes=duration_min), planned)


def check_slot(
    slot: Slot,
    *,
    chair: Chair,
    patient: Patient,
    exclude: Iterable[int] = (),
    now: dt.datetime | None = None,
) -> list[Problem]:
    """Every reason ``slot`` cannot be booked. Touching end-to-start is not an overlap."""
    problems = list(slot.problems)
    if problems:
        return problems
    label = f"{slot.local_start:%a %Y-%m-%d %H:%M}–{slot.local_end:%H:%M}"
    if not chair.active:
        problems.append(Problem("chair", f"{chair.name} is out of service."))
    closure = ClinicClosure.objects.filter(active=True, date=slot.day).first()
    if closure is not None:
        problems.append(
            Problem("date", f"The clinic is closed on {slot.day:%A %Y-%m-%d} ({closure.reason}).")
        )
    if slot.starts_at < (now or timezone.now()):
        problems.append(Problem("date", f"{label} is in the past."))
    periods = hours_on(chair, slot.day)
    end_local = slot.local_end
    inside = any(
        opens <= slot.local_start.time()
        and end_local.date() == slot.day
        and end_local.time() <= closes
        for opens, closes in periods
    )
    if not inside:
        hours = ", ".join(f"{o:%H:%M}–{c:%H:%M}" for o, c in periods) or "closed"
        problems.append(
            Problem(
                "start_time",
                f"{label} is outside {chair.name}'s opening hours on {slot.day:%A} ({hours}).",
            )
        )
    if slot.ends_at - slot.starts_at > MAX_BOOKING:
        problems.append(Problem("start_time", "A booking cannot be longer than 24 hours."))
        return problems
    overlapping = overlapping_bookings(slot.starts_at, slot.ends_at)
    excluded = list(exclude)
    if excluded:
        overlapping = overlapping.exclude(pk__in=excluded)
    for other in overlapping.filter(Q(chair=chair) | Q(patient=patient)).order_by("starts_at"):
        if other.chair_id == chair.pk:
            problems.append(
                Problem(
                    "chair",
                    f"{chair.name} is already taken at {label} by {describe(other)}.",
                    other,
                )
            )
        if other.patient_id == patient.pk and other.chair_id != chair.pk:
            problems.append(
                Problem(
                    "date",
                    f"{patient.full_name} is already booked at an overlapping time: "
                    f"{describe(other)}.",
                    other,
                )
            )
    return problems


# --- series -----------------------------------------------------------------------------------


def plan_problem(plan: TreatmentPlan) -> Problem | None:
    if plan.status != PlanStatus.ACTIVE:
        return Problem(
            None,
            f"This plan is {plan.get_status_display().lower()}: only an active plan can be booked.",
        )
    if not plan.sessions.exists():
        return Problem(None, "This plan has no sessions.")
    if not unbooked_sessions(plan):
        already = (
            Booking.objects.filter(plan=plan, status__in=OCCUPYING)
            .select_related("patient", "chair")
            .order_by("starts_at")
            .first()
        )
        return Problem(
            None,
            "Every session of this plan is already booked; reschedule single sessions from "
            "their booking page.",
            already,
        )
    return None


def unbooked_sessions(plan: TreatmentPlan) -> list[PlannedSession]:
    """Sessions of ``plan`` with no booked or completed booking (all of them for a new plan;
    after a cancellation, the ones left to book)."""
    return list(plan.sessions.exclude(bookings__status__in=OCCUPYING).order_by("number").distinct())


def consent_refusal(coverage: ConsentCoverage, number: int) -> SchedulingError:
    return SchedulingError(
        coverage.refusal(number),
        detail={
            "session": number,
            "consented_sessions": coverage.covered,
            "consent_id": coverage.consent.pk if coverage.consent is not None else None,
        },
    )


def consented_sessions(
    plan: TreatmentPlan, sessions: Sequence[PlannedSession]
) -> list[PlannedSession]:
    """The ``sessions`` the patient's consent in force covers (treatments.services
    ConsentCoverage: the latest granted, not withdrawn consent for the plan's drug and
    protocol). The sessions beyond it are left out of a series; when none is covered,
    SchedulingError names the first one and the number of sessions consented to."""
    coverage = plan_consent_coverage(plan)
    covered = [s for s in sessions if coverage.covers(s.number)]
    if sessions and not covered:
        raise consent_refusal(coverage, sessions[0].number)
    return covered


def propose_series(
    plan: TreatmentPlan, chair: Chair, first_date: dt.date, start_time: dt.time
) -> list[Slot]:
    """The series for ``plan`` in ``chair`` from ``first_date`` at ``start_time``, each slot
    carrying its problems (conflicts, hours, past); raises SchedulingError when the plan
    itself cannot be booked or the first date is closed. Only the sessions not yet booked are
    proposed (a cancelled session can be booked again this way), the first of them on
    ``first_date`` and the others at their planned gaps from it. Sessions beyond the
    patient's consent are not proposed (SchedulingError when no unbooked session is covered).
    """
    problem = plan_problem(plan)
    if problem is not None:
        raise SchedulingError.listing([problem])
    sessions = consented_sessions(plan, unbooked_sessions(plan))
    horizon = first_date + dt.timedelta(
        days=max(s.day_offset for s in sessions) - sessions[0].day_offset + 60
    )
    closed = closures_between(first_date, horizon)
    dates = series_dates([s.day_offset for s in sessions], first_date, open_weekdays(chair), closed)
    slots = [
        make_slot(d, start_time, s.duration_min, s) for d, s in zip(dates, sessions, strict=True)
    ]
    now = timezone.now()
    for slot in slots:
        slot.problems = check_slot(slot, chair=chair, patient=plan.patient, now=now)
    return slots


def _slot_detail(slot: Slot) -> dict[str, Any]:
    return {
        "session": slot.planned_session.number if slot.planned_session else None,
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
    }


@service(ROLES.book_series, category=CATEGORY, action=Action.CREATE)
def do_book_series(
    actor: Actor,
    plan_id: int,
    *,
    chair_id: int,
    first_date: dt.date,
    start_time: dt.time,
) -> list[Booking]:
    """Book every unbooked session of an active plan that the patient's consent covers, or
    nothing (SchedulingError lists why; it names the first session beyond the consent when
    none left to book is covered)."""
    user = actor.user
    with transaction.atomic():
        plan = TreatmentPlan.objects.select_for_update().select_related("patient").get(pk=plan_id)
        note_subject(patient=plan.patient, obj=plan)
        # Serialise bookings of this patient and of this chair.
        Patient.objects.select_for_update().filter(pk=plan.patient_id).first()
        chair = with_active_hours(Chair.objects.select_for_update()).get(pk=chair_id)
        slots = propose_series(plan, chair, first_date, start_time)
        problems = [p for slot in slots for p in slot.problems]
        if problems:
            raise SchedulingError.listing(problems)
        now = timezone.now()
        bookings = []
        for slot in slots:
            booking = Booking.objects.create(
                patient=plan.patient,
                chair=chair,
                plan=plan,
                planned_session=slot.planned_session,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                booked_by=user,
                booked_at=now,
            )
            bookings.append(booking)
            audit(
                actor,
                category=CATEGORY,
                action=Action.CREATE,
                patient=plan.patient,
                obj=booking,
                detail={"plan_id": plan.pk, "chair": chair.name, **_slot_detail(slot)},
            )
    return bookings


# --- one booking: reschedule and cancel -------------------------------------------------------


def _lock_booking(actor: Actor, booking_id: int, expected_version: int) -> Booking:
    booking = (
        Booking.objects.select_for_update(of=("self",))
        .select_related("patient", "chair", "plan", "planned_session")
        .get(pk=booking_id)
    )
    note_subject(patient=booking.patient, obj=booking)
    if booking.version != expected_version:
        raise BookingEditConflict(booking, expected_version)
    if booking.status != BookingStatus.BOOKED:
        raise SchedulingError(f"This booking is {booking.get_status_display().lower()}.")
    status = infusion_status(booking)
    if status in STARTED_SESSION_STATUSES:
        raise SchedulingError("The infusion has started: the booking can no longer change.")
    if status is not None and status != "cancelled":
        # The nurse has opened the chart (a bag may already be drawn): cancelling here would
        # leave the session and any drawn controlled drug behind on a cancelled booking.
        raise SchedulingError(
            "The infusion chart is open for this booking: a nurse or physician cancels "
            "the session from the chart (the booking is cancelled with it)."
        )
    return booking


def infusion_session_of(booking: Booking) -> Any:
    """The booking's infusion session, or None (the reverse one-to-one may be absent)."""
    from django.core.exceptions import ObjectDoesNotExist

    try:
        return booking.infusion_session  # type: ignore[attr-defined]
    except ObjectDoesNotExist:
        return None


def infusion_status(booking: Booking) -> str | None:
    session = infusion_session_of(booking)
    return None if session is None else str(session.status)


def _cancel(booking: Booking, reason: str) -> None:
    Booking.objects.filter(pk=booking.pk).update(
        status=BookingStatus.CANCELLED, cancel_reason=reason, version=F("version") + 1
    )
    booking.refresh_from_db()


@service(ROLES.cancel_booking, category=CATEGORY, action=Action.UPDATE)
def do_cancel_booking(
    actor: Actor, booking_id: int, *, expected_version: int, reason: str
) -> Booking:
    """Cancel with a mandatory reason; the booking stays (status cancelled)."""
    reason = (reason or "").strip()
    if not reason:
        raise SchedulingError("Give the reason for cancelling.", "reason")
    with transaction.atomic():
        booking = _lock_booking(actor, booking_id, expected_version)
        _cancel(booking, reason)
        audit(
            actor,
            category=CATEGORY,
            action=Action.UPDATE,
            patient=booking.patient,
            obj=booking,
            detail={"status": "cancelled", "reason": reason, "version": booking.version},
        )
    return booking


def cancel_booking_of_session(actor: Actor, booking_id: int, *, reason: str) -> Booking:
    """Cancel the booking of an infusion session cancelled from its chart, with the session's
    reason; audited like a desk cancellation.

    A plain helper, not a service (no ``@service``): it is called only by
    ``infusions.services.do_cancel_session`` inside that service's transaction (which holds the
    session's lock and checked its version), so a refusal here is audited once, by that outer
    service, after its rollback. It still refuses an actor other than a nurse or a physician
    (``ROLES.cancel_booking_of_session``) with ``PermissionDenied``."""
    if actor.role not in ROLES.cancel_booking_of_session:
        raise PermissionDenied(
            f"{actor.role or 'an anonymous visitor'} may not cancel an infusion session's booking"
        )
    reason = (reason or "").strip()
    if not reason:
        raise SchedulingError("Give the reason for cancelling.", "reason")
    with transaction.atomic():
        booking = (
            Booking.objects.select_for_update(of=("self",))
            .select_related("patient", "chair")
            .get(pk=booking_id)
        )
        if booking.status != BookingStatus.BOOKED:
            raise SchedulingError(f"This booking is {booking.get_status_display().lower()}.")
        _cancel(booking, reason)
        audit(
            actor,
            category=CATEGORY,
            action=Action.UPDATE,
            patient=booking.patient,
            obj=booking,
            detail={
                "status": "cancelled",
                "reason": reason,
                "version": booking.version,
                "via": "infusion session cancelled",
            },
        )
    return booking


@service(ROLES.reschedule_booking, category=CATEGORY, action=Action.UPDATE)
def do_reschedule_booking(
    actor: Actor,
    booking_id: int,
    *,
    expected_version: int,
    chair_id: int,
    day: dt.date,
    start_time: dt.time,
) -> Booking:
    """Move a booking: a new booking (``rescheduled_from`` the old one, same duration and
    planned session) after the same checks; the old one is cancelled with reason
    "rescheduled". One transaction: both happen or neither."""
    user = actor.user
    with transaction.atomic():
        booking = _lock_booking(actor, booking_id, expected_version)
        Patient.objects.select_for_update().filter(pk=booking.patient_id).first()
        chair = with_active_hours(Chair.objects.select_for_update()).get(pk=chair_id)
        if booking.plan is not None and booking.plan.status != PlanStatus.ACTIVE:
            raise SchedulingError(f"The plan is {booking.plan.get_status_display().lower()}.")
        if booking.plan is not None and booking.planned_session is not None:
            coverage = plan_consent_coverage(booking.plan)
            if not coverage.covers(booking.planned_session.number):
                raise consent_refusal(coverage, booking.planned_session.number)
        duration = int((booking.ends_at - booking.starts_at).total_seconds() // 60)
        slot = make_slot(day, start_time, duration, booking.planned_session)
        problems = check_slot(slot, chair=chair, patient=booking.patient, exclude=[booking.pk])
        if problems:
            raise SchedulingError.listing(problems)
        _cancel(booking, "rescheduled")
        new = Booking.objects.create(
            patient=booking.patient,
            chair=chair,
            plan=booking.plan,
            planned_session=booking.planned_session,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            rescheduled_from=booking,
            booked_by=user,
            booked_at=timezone.now(),
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.UPDATE,
            patient=booking.patient,
            obj=booking,
            detail={"status": "cancelled", "reason": "rescheduled", "rescheduled_to": new.pk},
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            patient=booking.patient,
            obj=new,
            detail={
                "rescheduled_from": booking.pk,
                "chair": chair.name,
                "before": {
                    "chair": booking.chair.name,
                    "starts_at": booking.starts_at.isoformat(),
                    "ends_at": booking.ends_at.isoformat(),
                },
                **_slot_detail(slot),
            },
        )
    return new


def cancelled_on(day: dt.date) -> list[Booking]:
    """The day's cancelled bookings (desk cancellations, moves and infusion sessions cancelled
    from the chart), for the list under the chair board: one joined read with the patient, the
    chair and the infusion session (if any). Hand-built (web/lib/rowreads.py): the board is read
    every two minutes at every chairside, and the same read through the ORM (select_related
    with only) added 1.1-1.6 ms to the board's median, past its budget (bench_treatment)."""
    start, end = local_day_bounds(day)
    found = joined_rows(
        Booking,
        {
            "": ("patient", "chair", "starts_at", "cancel_reason", "status"),
            "patient": ("legal_given_name", "legal_family_name", "preferred_name"),
            "chair": ("name",),
            "infusion_session": ("status",),
        },
        where=[
            ("status", "=", BookingStatus.CANCELLED),
            ("starts_at", ">=", start),
            ("starts_at", "<", end),
            ("cancel_reason", "!=", "rescheduled"),
        ],
    )
    return sorted(found, key=lambda b: (b.starts_at, b.chair.name))


# --- chairs -----------------------------------------------------------------------------------

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def chair_snapshot(chair: Chair) -> dict[str, Any]:
    hours = {
        WEEKDAYS[h.weekday]: f"{h.opens:%H:%M}-{h.closes:%H:%M}"
        for h in chair.opening_hours.filter(active=True)
    }
    return {"name": chair.name, "location": chair.location, "active": chair.active, "hours": hours}


@service(ROLES.save_chair, category=CATEGORY, action=Action.UPDATE)
def do_save_chair(
    actor: Actor,
    chair_id: int | None,
    *,
    name: str,
    location: str,
    hours: dict[int, tuple[dt.time, dt.time] | None],
) -> Chair:
    """Create or edit a chair and its weekly hours (``hours[weekday]`` = (opens, closes) or None
    for closed). Hours rows are switched off, never deleted. Existing bookings are not moved:
    the chairs page lists any that now fall outside the hours."""
    for weekday, period in hours.items():
        if period is not None and period[0] >= period[1]:
            raise SchedulingError("Closing time must be after opening time.", f"closes_{weekday}")
    with transaction.atomic():
        clash = Chair.objects.filter(name__iexact=name.strip())
        if chair_id is not None:
            clash = clash.exclude(pk=chair_id)
        if clash.exists():
            raise SchedulingError("Another chair already has this name.", "name")
        if chair_id is None:
            chair = Chair.objects.create(name=name.strip(), location=location.strip())
            before: dict[str, Any] = {}
        else:
            chair = Chair.objects.select_for_update().get(pk=chair_id)
            note_subject(obj=chair)
            before = chair_snapshot(chair)
            chair.name = name.strip()
            chair.location = location.strip()
            chair.save(update_fields=["name", "location"])
        existing = {h.weekday: h for h in chair.opening_hours.order_by("weekday", "-active", "id")}
        for weekday in range(7):
            period = hours.get(weekday)
            row = existing.get(weekday)
            if period is None:
                if row is not None and row.active:
                    OpeningHours.objects.filter(chair=chair, weekday=weekday).update(active=False)
            elif row is None:
                OpeningHours.objects.create(
                    chair=chair, weekday=weekday, opens=period[0], closes=period[1]
                )
            else:
                OpeningHours.objects.filter(pk=row.pk).update(
                    opens=period[0], closes=period[1], active=True
                )
                OpeningHours.objects.filter(chair=chair, weekday=weekday).exclude(pk=row.pk).update(
                    active=False
                )
        after = chair_snapshot(chair)
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE if chair_id is None else Action.UPDATE,
            obj=chair,
            detail={"before": before, "after": after},
        )
    return chair


@service(ROLES.set_chair_active, category=CATEGORY, action=Action.UPDATE)
def do_set_chair_active(actor: Actor, chair_id: int, *, active: bool) -> Chair:
    """Take a chair out of service (or back). Chairs are never deleted; existing bookings
    stay and are listed for the front desk to move."""
    with transaction.atomic():
        chair = Chair.objects.select_for_update().get(pk=chair_id)
        note_subject(obj=chair)
        if chair.active != active:
            chair.active = active
            chair.save(update_fields=["active"])
            audit(
                actor,
                category=CATEGORY,
                action=Action.UPDATE,
                obj=chair,
                detail={"active": active},
            )
    return chair


def bookings_outside_hours(chairs: Iterable[Chair], after: dt.datetime) -> list[Booking]:
    """Future booked sessions that no longer fit their chair (closed, out of service, hours)."""
    by_id = {c.pk: c for c in chairs}
    closed = set(
        ClinicClosure.objects.filter(active=True, date__gte=after.date()).values_list(
            "date", flat=True
        )
    )
    out = []
    for booking in (
        Booking.objects.filter(status=BookingStatus.BOOKED, starts_at__gte=after)
        .select_related("patient", "chair")
        .order_by("starts_at")[:500]
    ):
        chair = by_id.get(booking.chair_id)
        if chair is None:
            continue
        start = to_local(booking.starts_at)
        end = to_local(booking.ends_at)
        fits = (
            start.date() not in closed
            and chair.active
            and any(
                o <= start.time() and end.date() == start.date() and end.time() <= c
                for o, c in hours_on(chair, start.date())
            )
        )
        if not fits:
            out.append(booking)
    return out


@service(ROLES.add_closure, category=CATEGORY, action=Action.CREATE)
def do_add_closure(actor: Actor, *, day: dt.date, reason: str) -> ClinicClosure:
    """Close the clinic for a day. Existing bookings stay and are listed for the front desk."""
    user = actor.user
    reason = (reason or "").strip()
    if not reason:
        raise SchedulingError("Say why the clinic is closed.", "reason")
    with transaction.atomic():
        if ClinicClosure.objects.filter(active=True, date=day).exists():
            raise SchedulingError(f"{day:%Y-%m-%d} is already closed.", "date")
        closure = ClinicClosure.objects.create(date=day, reason=reason, created_by=user)
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            obj=closure,
            detail={"closed": day.isoformat(), "reason": reason},
        )
    return closure


@service(ROLES.reopen, category=CATEGORY, action=Action.UPDATE)
def do_reopen(actor: Actor, closure_id: int) -> ClinicClosure:
    """Reopen the clinic on a day closed by mistake (the closure is switched off, not deleted)."""
    with transaction.atomic():
        closure = ClinicClosure.objects.select_for_update().get(pk=closure_id)
        note_subject(obj=closure)
        if closure.active:
            closure.active = False
            closure.save(update_fields=["active"])
            audit(
                actor,
                category=CATEGORY,
                action=Action.UPDATE,
                obj=closure,
                detail={"reopened": closure.date.isoformat()},
            )
    return closure
