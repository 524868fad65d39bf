"""The daily chair board: chairs as columns, 15-minute rows, one card per booking.

A constant number of queries whatever the number of bookings: chairs (+ their hours), the
day's bookings with patient, plan, planned session and infusion session joined in, and the
session count of each plan as a subquery.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.urls import NoReverseMatch, reverse

from painclinic.pharmacology import format_dose
from painclinic.web.scheduling.clinictime import local_day_bounds, to_local, to_utc
from painclinic.web.scheduling.models import Booking, BookingStatus, Chair
from painclinic.web.scheduling.services import (
    MAX_BOOKING,
    OCCUPYING,
    hours_on,
    with_active_hours,
)
from painclinic.web.treatments.models import PlannedSession

SLOT_MIN = 15
DEFAULT_OPEN = dt.time(8, 0)
DEFAULT_CLOSE = dt.time(17, 0)


def planned_rates(steps: Any) -> str:
    """The planned rate(s) of a session's steps, ISMP-formatted: "20 mg/h" or "5 → 20 mg/h"."""
    rates: list[float] = []
    for step in steps or []:
        try:
            rate = float(step.get("rate_mg_per_h"))
        except (TypeError, ValueError, AttributeError):
            continue
        if not rates or rates[-1] != rate:
            rates.append(rate)
    if not rates:
        return ""
    if len(rates) == 1:
        return format_dose(rates[0], "mg/h")
    return " → ".join(format_dose(r, "mg/h").removesuffix(" mg/h") for r in rates) + " mg/h"


def _url(name: str, **kwargs: Any) -> str | None:
    """A URL that may not exist yet (the infusions app provides it): None instead of an error."""
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


@dataclass
class Card:
    booking: Booking
    rowspan: int
    session_total: int | None
    status: str
    status_label: str
    session_url: str | None
    open_url: str | None

    @property
    def local_start(self) -> dt.datetime:
        return to_local(self.booking.starts_at)

    @property
    def local_end(self) -> dt.datetime:
        return to_local(self.booking.ends_at)

    @property
    def session_number(self) -> int | None:
        planned = self.booking.planned_session
        return planned.number if planned else None

    @property
    def drug(self) -> str:
        plan = self.booking.plan
        return plan.get_drug_display() if plan else ""

    @property
    def rate(self) -> str:
        planned = self.booking.planned_session
        return planned_rates(planned.steps) if planned else ""


@dataclass
class Cell:
    kind: str  # "card", "free", "closed"
    card: Card | None = None
    rowspan: int = 1


@dataclass
class Row:
    label: str
    on_the_hour: bool
    cells: list[Cell] = field(default_factory=list)


@dataclass
class Board:
    day: dt.date
    chairs: list[Chair]
    rows: list[Row]
    cards: list[Card]

    @property
    def patient_ids(self) -> list[int]:
        return sorted({c.booking.patient_id for c in self.cards})


def _session_status(booking: Booking) -> tuple[str, str, Any]:
    from django.core.exceptions import ObjectDoesNotExist

    try:
        session = booking.infusion_session  # type: ignore[attr-defined]
    except ObjectDoesNotExist:
        session = None
    if session is None:
        if booking.status == BookingStatus.COMPLETED:
            return "completed", "Completed", None
        return "booked", "Booked", None
    return str(session.status), session.get_status_display(), session


def build_board(day: dt.date) -> Board:
    start_utc, end_utc = local_day_bounds(day)
    totals = (
        PlannedSession.objects.filter(plan=OuterRef("plan"))
        .order_by()
        .values("plan")
        .annotate(n=Count("id"))
        .values("n")
    )
    bookings = list(
        Booking.objects.filter(
            status__in=OCCUPYING,
            starts_at__lt=end_utc,
            starts_at__gt=start_utc - MAX_BOOKING,
            ends_at__gt=start_utc,
        )
        .select_related("patient", "chair", "plan", "planned_session", "infusion_session")
        .annotate(session_total=Subquery(totals, output_field=IntegerField()))
        .order_by("starts_at")
    )
    booked_chairs = {b.chair_id for b in bookings}
    chairs = list(
        with_active_hours(Chair.objects.filter(Q(active=True) | Q(pk__in=booked_chairs))).order_by(
            "name"
        )
    )
    periods = {c.pk: hours_on(c, day) if c.active else [] for c in chairs}
    opens = [o for p in periods.values() for o, _ in p]
    closes = [c for p in periods.values() for _, c in p]
    if not opens and not bookings:
        return Board(day=day, chairs=chairs, rows=[], cards=[])
    first_local = min(opens) if opens else DEFAULT_OPEN
    last_local = max(closes) if closes else DEFAULT_CLOSE
    grid_start = to_utc(day, first_local) if _exists(day, first_local) else start_utc
    grid_end = to_utc(day, last_local) if _exists(day, last_local) else end_utc
    if bookings:
        grid_start = min(grid_start, max(start_utc, bookings[0].starts_at))
        grid_end = max(grid_end, min(end_utc, max(b.ends_at for b in bookings)))
    step = dt.timedelta(minutes=SLOT_MIN)
    # Align to the quarter hour (in UTC, which for Toronto is also the local quarter hour).
    grid_start = grid_start.replace(
        minute=grid_start.minute - grid_start.minute % SLOT_MIN, second=0, microsecond=0
    )
    instants = []
    t = grid_start
    while t < grid_end:
        instants.append(t)
        t += step
    rows = [
        Row(
            label=to_local(t).strftime("%H:%M"),
            on_the_hour=to_local(t).minute == 0,
        )
        for t in instants
    ]
    cards: list[Card] = []
    session_url_ok = True
    open_url_ok = True
    for chair in chairs:
        column: list[Cell | None] = [None] * len(instants)
        taken_until = 0
        for booking in (b for b in bookings if b.chair_id == chair.pk):
            first = max(0, math.floor((booking.starts_at - grid_start) / step))
            last = min(len(instants), math.ceil((booking.ends_at - grid_start) / step))
            first = max(first, taken_until)
            if first >= len(instants):
                continue
            last = max(last, first + 1)
            status, label, session = _session_status(booking)
            session_url = open_url = None
            if session is not None and session_url_ok:
                session_url = _url("infusions:session", session_id=session.pk)
                session_url_ok = session_url is not None
            elif session is None and open_url_ok:
                open_url = _url("infusions:open", booking_id=booking.pk)
                open_url_ok = open_url is not None
            card = Card(
                booking=booking,
                rowspan=last - first,
                session_total=getattr(booking, "session_total", None),
                status=status,
                status_label=label,
                session_url=session_url,
                open_url=open_url,
            )
            cards.append(card)
            column[first] = Cell("card", card, last - first)
            for i in range(first + 1, last):
                column[i] = Cell("covered")
            taken_until = last
        for i, t in enumerate(instants):
            cell = column[i]
            if cell is None:
                local = to_local(t)
                is_open = any(o <= local.time() < c for o, c in periods[chair.pk])
                cell = Cell("free" if is_open else "closed")
            if cell.kind != "covered":
                rows[i].cells.append(cell)
    return Board(day=day, chairs=chairs, rows=rows, cards=cards)


def _exists(day: dt.date, wall: dt.time) -> bool:
    from painclinic.web.scheduling.clinictime import LocalTimeError

    try:
        to_utc(day, wall)
    except LocalTimeError:
        return False
    return True
