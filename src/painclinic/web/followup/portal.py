"""What the patient portal shows of follow-up: questionnaires to complete, the next
appointments with how to prepare, and the patient's own pain over time (read models, no writes).

Also the crisis rule the confirmation page applies to a submitted PHQ-9 (item 9 above 0, or a
total of 20 or more: show the crisis resources at once).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from painclinic.clinical.followup import (
    ANSWERABLE,
    WindowState,
    window_state,
)
from painclinic.web.followup.models import (
    AnswerChannel,
    FollowUpResponse,
    FollowUpTimePoint,
    ResponseStatus,
    TimePointStatus,
)
from painclinic.web.followup.services import scheduled_of
from painclinic.web.lib.clinictime import to_local
from painclinic.web.patients.models import Patient
from painclinic.web.scheduling.models import Booking, BookingStatus


@dataclass(frozen=True)
class DueQuestionnaire:
    point: FollowUpTimePoint
    state: str  # "Open", "Due", "Overdue"
    overdue: bool
    due_on: dt.date
    closes_on: dt.date
    started: bool


def due_questionnaires(patient: Patient, today: dt.date) -> list[DueQuestionnaire]:
    """The patient's time points open for answers today, soonest first."""
    points = FollowUpTimePoint.objects.filter(
        patient=patient,
        status=TimePointStatus.SCHEDULED,
        opens_on__lte=today,
        closes_on__gte=today,
    ).order_by("due_on", "id")
    started = set(
        FollowUpResponse.objects.filter(time_point__in=points).values_list(
            "time_point_id", flat=True
        )
    )
    found = []
    for point in points:
        state = window_state(scheduled_of(point), today)
        if state not in ANSWERABLE:
            continue
        found.append(
            DueQuestionnaire(
                point=point,
                state={"open": "Open", "due": "Due", "overdue": "Overdue"}[str(state)],
                overdue=state == WindowState.OVERDUE,
                due_on=point.due_on,
                closes_on=point.closes_on,
                started=point.pk in started,
            )
        )
    return found


@dataclass(frozen=True)
class Preparation:
    """How to prepare for an infusion day (clinic policy in settings, not published limits)."""

    solids_hours: int
    clear_fluids_hours: int
    what_to_bring: str


def preparation() -> Preparation:
    solids, fluids = settings.INFUSION_FASTING_HOURS
    return Preparation(
        solids_hours=int(solids),
        clear_fluids_hours=int(fluids),
        what_to_bring=str(getattr(settings, "INFUSION_WHAT_TO_BRING", "")),
    )


def upcoming_appointments(patient: Patient, now: dt.datetime, limit: int = 5) -> list[Booking]:
    return list(
        Booking.objects.filter(patient=patient, status=BookingStatus.BOOKED, ends_at__gte=now)
        .select_related("plan")
        .order_by("starts_at")[:limit]
    )


@dataclass(frozen=True)
class PainPoint:
    day: dt.date
    label: str
    nrs: int
    by_staff: bool
    x: float = 0.0  # position on the chart (0-100)
    y: float = 0.0


def pain_trajectory(patient: Patient) -> list[PainPoint]:
    """The patient's submitted pain scores (0-10) in time order, placed on a 100 x 100 chart."""
    rows = list(
        FollowUpResponse.objects.filter(
            patient=patient, instrument="nrs", status=ResponseStatus.SUBMITTED
        )
        .select_related("time_point")
        .order_by("submitted_at", "id")
    )
    found: list[PainPoint] = []
    for row in rows:
        value = row.answers.get("score")
        if value is None or row.submitted_at is None:
            continue
        found.append(
            PainPoint(
                day=to_local(row.submitted_at).date(),
                label=row.time_point.label,
                nrs=int(value),
                by_staff=row.channel in (AnswerChannel.PHONE, AnswerChannel.CLINIC),
            )
        )
    if not found:
        return found
    first, last = found[0].day, found[-1].day
    span = max((last - first).days, 1)
    placed = []
    for index, point in enumerate(found):
        x = (
            50.0
            if len(found) == 1
            else 100.0
            * ((point.day - first).days / span if last != first else index / (len(found) - 1))
        )
        placed.append(
            PainPoint(
                day=point.day,
                label=point.label,
                nrs=point.nrs,
                by_staff=point.by_staff,
                x=round(x, 2),
                y=round(100.0 - 10.0 * point.nrs, 2),
            )
        )
    return placed
