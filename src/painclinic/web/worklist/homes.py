"""What each staff role's home page lists: the work waiting, with its counts.

Reads only (no writes, no audit: the view audits what it shows). Every list is LIMITed and
every count is a COUNT in SQL; a role's counts are read in one statement (``counts``), so a
home page runs the same number of queries whatever the size of the clinic's data.

This module sits in the worklist's layer: it reads the apps below it (assessments, treatments,
scheduling, infusions). What billing and referrals add to a home (apps above the worklist) is
read by the presentation module (``views.py``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Exists, F, Max, Min, OuterRef, QuerySet, Subquery
from django.utils import timezone

from painclinic.web.assessments.models import (
    CRITERIA_INSTRUMENTS,
    Assessment,
    ChecklistItem,
    EligibilityDecision,
)
from painclinic.web.infusions.chart import observation_schedule
from painclinic.web.infusions.models import (
    AdverseEvent,
    InfusionSession,
    Observation,
    RateSegment,
    SessionStatus,
)
from painclinic.web.lib.clinictime import local_day_bounds, local_today, to_local
from painclinic.web.scheduling.models import Booking, Chair
from painclinic.web.scheduling.services import OCCUPYING
from painclinic.web.treatments.models import (
    PlannedSession,
    PlanStatus,
    TreatmentConsent,
    TreatmentConsentDecision,
    TreatmentPlan,
)
from painclinic.web.worklist.models import Task, TaskStatus

# How many rows a list shows (its count is exact; "see all" goes where the work is done).
SHOWN = 8
RUNNING = (SessionStatus.RUNNING, SessionStatus.PAUSED)
# A plan's calculator result and eligibility snapshot (large JSON): never read for a list.
PLAN_HEAVY = ("plan_data", "eligibility")


def counts(**queries: QuerySet[Any]) -> dict[str, int]:
    """Each queryset's row count, all in one SQL statement (one round trip)."""
    if not queries:
        return {}
    parts: list[str] = []
    params: list[Any] = []
    for index, query in enumerate(queries.values()):
        sql, values = query.order_by().query.sql_with_params()
        # The ORM's compiled SQL with its parameters kept apart: nothing user-typed is pasted.
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS c{index})")  # noqa: S608
        params.extend(values)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {name: int(value) for name, value in zip(queries, row, strict=True)}


# --- the querysets each list and count is made of ---------------------------------------------


def plans_to_cosign(user: Any) -> QuerySet[TreatmentPlan]:
    """Plans over a soft dose limit waiting for a second physician (not the prescriber)."""
    return TreatmentPlan.objects.filter(status=PlanStatus.AWAITING_COSIGN).exclude(
        prescribed_by=user
    )


def decisions_to_cosign(user: Any) -> QuerySet[EligibilityDecision]:
    """Eligibility decisions that overrode an absolute contraindication, not yet co-signed."""
    return EligibilityDecision.objects.filter(
        cosign_required=True, cosigned_at__isnull=True
    ).exclude(decided_by=user)


def decisions_to_make() -> QuerySet[Any]:
    """Diagnostic-criteria assessments with no eligibility decision recorded since (one row a
    patient: the latest such assessment)."""
    later = EligibilityDecision.objects.filter(
        patient=OuterRef("patient"), decided_at__gte=OuterRef("completed_at")
    )
    return (
        Assessment.objects.filter(instrument__in=CRITERIA_INSTRUMENTS, superseded_by__isnull=True)
        .filter(~Exists(later))
        .values("patient")
        .annotate(latest=Max("completed_at"))
    )


def open_checklist() -> QuerySet[ChecklistItem]:
    return ChecklistItem.objects.filter(resolved_at__isnull=True)


def open_escalations() -> QuerySet[Task]:
    return Task.objects.filter(status=TaskStatus.OPEN)


def serious_events_to_report() -> QuerySet[AdverseEvent]:
    return AdverseEvent.objects.filter(serious=True, reported_at__isnull=True)


def _consent_sessions() -> Subquery:
    """The sessions the plan's consent in force covers (None: no consent in force), as
    ``treatments.services.current_treatment_consent`` picks it: the latest granted consent for
    the plan's drug and protocol that has not been withdrawn."""
    return Subquery(
        TreatmentConsent.objects.filter(
            patient=OuterRef("plan__patient"),
            drug=OuterRef("plan__drug"),
            protocol_id=OuterRef("plan__protocol_id"),
            decision=TreatmentConsentDecision.GRANTED,
            withdrawal__isnull=True,
        )
        .order_by("-signed_at", "-id")
        .values("sessions")[:1]
    )


def series_to_book() -> QuerySet[Any]:
    """Active plans with a planned session the consent covers and no booking holds (one row a
    plan: the first and last such session)."""
    booked = Booking.objects.filter(planned_session=OuterRef("pk"), status__in=OCCUPYING)
    return (
        PlannedSession.objects.filter(plan__status=PlanStatus.ACTIVE)
        .filter(~Exists(booked))
        .annotate(covered=_consent_sessions())
        .filter(number__lte=F("covered"))
        .values("plan")
        .annotate(first=Min("number"), last=Max("number"))
    )


def consents_missing() -> QuerySet[Any]:
    """Active plans with a planned session no consent in force covers (one row a plan: the
    first and last such session)."""
    return (
        PlannedSession.objects.filter(plan__status=PlanStatus.ACTIVE)
        .annotate(covered=_consent_sessions())
        .exclude(number__lte=F("covered"))
        .values("plan")
        .annotate(first=Min("number"), last=Max("number"))
    )


def todays_bookings(day: dt.date | None = None) -> QuerySet[Booking]:
    start, end = local_day_bounds(day or local_today())
    return Booking.objects.filter(status__in=OCCUPYING, starts_at__gte=start, starts_at__lt=end)


def running_infusions() -> QuerySet[InfusionSession]:
    return InfusionSession.objects.filter(status__in=RUNNING)


# --- the rows the lists show -------------------------------------------------------------------


@dataclass
class Item:
    """One line of a list: what, about whom, where to do it."""

    text: str
    url: str
    patient: Any = None
    when: dt.datetime | dt.date | None = None
    note: str = ""
    urgent: bool = False
    # A referral is not yet a patient: its id, for the page's read audit.
    referral_id: int | None = None


@dataclass
class Section:
    """One list on a home page: its heading, the exact count, the first rows, the page for all."""

    key: str
    title: str
    count: int
    items: list[Item] = field(default_factory=list)
    more_url: str = ""
    more_label: str = ""
    empty: str = "Nothing waiting."
    # Counted in the top bar's badge (work to do, not information).
    actionable: bool = True
    note: str = ""
    # The count stops one past the rows shown (an exact count would cost too much): "9+".
    at_least: bool = False
    # False when a line stands for several of what is counted (refusals grouped by person).
    one_line_each: bool = True

    @property
    def hidden(self) -> int:
        if self.at_least or not self.one_line_each:
            return 0
        return max(self.count - len(self.items), 0)

    @property
    def count_label(self) -> str:
        return f"{len(self.items)}+" if self.at_least else str(self.count)


@dataclass
class ChairNow:
    """A chair today: who is in it now (or next), and the next observation due."""

    chair: Chair
    booking: Booking | None = None
    session: InfusionSession | None = None
    state: str = ""  # in the chair now | next | done for the day | free
    status_label: str = ""
    next_due: dt.datetime | None = None
    due_state: str = ""  # overdue | due | upcoming
    later: int = 0

    @property
    def due_label(self) -> str:
        return {"overdue": "Overdue", "due": "Due now", "upcoming": "Next"}.get(self.due_state, "")


def chairs_today(now: dt.datetime | None = None) -> list[ChairNow]:
    """Today's chairs: the booking in each now (or the next one) and, for an infusion running,
    its next observation due on the protocol's cadence (``infusions.chart.observation_schedule``,
    the rule the chart itself shows). Four queries whatever the day holds."""
    now = now or timezone.now()
    bookings = list(
        todays_bookings(to_local(now).date())
        .select_related(
            "patient",
            "infusion_session",
            "infusion_session__plan",
            "infusion_session__planned_session",
        )
        .defer(
            *(f"infusion_session__plan__{name}" for name in PLAN_HEAVY),
            "infusion_session__planned_session__steps",
        )
        .order_by("starts_at", "id")[:400]
    )
    chairs = [c for c in Chair.objects.order_by("name", "id") if c.active]
    by_chair: dict[int, list[Booking]] = {}
    for booking in bookings:
        by_chair.setdefault(booking.chair_id, []).append(booking)
    sessions = {}
    for booking in bookings:
        session = getattr(booking, "infusion_session", None)
        if session is not None and session.status in RUNNING:
            sessions[session.pk] = session
    started: dict[int, dt.datetime] = {}
    observed: dict[int, list[Observation]] = {}
    if sessions:
        # The infusion starts with its first rate segment (as the chart reads it).
        started = dict(
            RateSegment.objects.filter(session_id__in=sessions)
            .values("session_id")
            .annotate(first=Min("started_at"))
            .values_list("session_id", "first")
        )
        for observation in Observation.objects.filter(session_id__in=sessions).only(
            "id", "session_id", "observed_at", "action"
        ):
            observed.setdefault(observation.session_id, []).append(observation)
    out = []
    for chair in chairs:
        day = by_chair.get(chair.pk, [])
        current = next(
            (
                b
                for b in day
                if getattr(getattr(b, "infusion_session", None), "status", "") in RUNNING
                or b.starts_at <= now < b.ends_at
            ),
            None,
        )
        upcoming = [b for b in day if b.starts_at > now and b is not current]
        row = ChairNow(chair=chair)
        if current is not None:
            row.booking, row.state = current, "In the chair now"
        elif upcoming:
            row.booking, row.state = upcoming[0], "Next"
        elif day:
            row.state = "Done for the day"
        else:
            row.state = "No booking today"
        row.later = len(upcoming) - (0 if current is not None else 1) if upcoming else 0
        session = getattr(row.booking, "infusion_session", None) if row.booking else None
        row.session = session
        if row.booking is not None:
            row.status_label = session.get_status_display() if session else "Booked"
        if session is not None and session.pk in sessions:
            schedule = observation_schedule(
                session, started.get(session.pk), observed.get(session.pk, []), now, None
            )
            pending = next((d for d in schedule if d.state in ("overdue", "due", "upcoming")), None)
            if pending is not None:
                row.next_due, row.due_state = pending.due_at, pending.state
        out.append(row)
    return out
