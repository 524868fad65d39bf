"""The daily chair board: chairs as columns, 15-minute rows, one card per booking.

A constant number of queries whatever the number of bookings: the day's bookings with patient,
plan, planned session and infusion session joined in and the session count of each plan as
a subquery, then plain ORM reads of the chairs and of that weekday's opening hours. The
booking read is hand-built (web/lib/rowreads.py): the board is read every two minutes at every
chairside and the bench shows that read, not the two small ones, to matter (the chairs and
hours through the ORM cost about 0.5 ms of the board's median; the cancelled list under the
board is scheduling.services.cancelled_on).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass, field
from html import escape
from typing import Any

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from painclinic.pharmacology import format_dose
from painclinic.web.infusions.models import InfusionSession, SessionStatus
from painclinic.web.lib.clinictime import local_day_bounds, to_local, to_utc
from painclinic.web.lib.rowreads import joined_rows
from painclinic.web.scheduling.models import Booking, BookingStatus, Chair, OpeningHours
from painclinic.web.scheduling.services import (
    MAX_BOOKING,
    OCCUPYING,
)
from painclinic.web.treatments.models import PlannedSession

SLOT_MIN = 15
BOARD_READ: dict[str, tuple[str, ...]] = {
    "": ("patient", "chair", "plan", "planned_session", "starts_at", "ends_at", "status"),
    "patient": ("legal_given_name", "legal_family_name", "preferred_name"),
    "plan": ("drug",),
    "planned_session": ("number", "steps"),
    "infusion_session": ("status",),  # reverse one-to-one: None until the chart is opened
}
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


_SENTINEL_ID = 987_654_321


@functools.cache
def _url_template(name: str, kwarg: str) -> str:
    """``name``'s URL with ``{}`` where the id goes: one ``reverse`` per process, not per card."""
    return reverse(name, kwargs={kwarg: _SENTINEL_ID}).replace(str(_SENTINEL_ID), "{}")


def _url(name: str, kwarg: str, object_id: int) -> str:
    return _url_template(name, kwarg).format(object_id)


@dataclass(frozen=True)
class Card:
    """One booking on the board, with what its card shows."""

    booking_id: int
    patient_id: int
    patient_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    rowspan: int
    session_number: int | None
    session_total: int | None
    drug: str
    rate: str
    status: str
    status_label: str
    session_url: str | None
    open_url: str | None

    @property
    def local_start(self) -> dt.datetime:
        return to_local(self.starts_at)

    @property
    def local_end(self) -> dt.datetime:
        return to_local(self.ends_at)


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
        return sorted({c.patient_id for c in self.cards})


def _session_status(booking: Booking, session: InfusionSession | None) -> tuple[str, str]:
    if session is None:
        if booking.status == BookingStatus.COMPLETED:
            return "completed", "Completed"
        return "booked", "Booked"
    return str(session.status), SessionStatus(session.status).label


def build_board(day: dt.date) -> Board:
    start_utc, end_utc = local_day_bounds(day)
    # Only what a card shows, in one joined read with no compiled queryset
    # (web/lib/rowreads.py): the board is read every two minutes at every chairside.
    found = joined_rows(
        Booking,
        BOARD_READ,
        where=[
            ("status", "in", sorted(OCCUPYING)),
            ("starts_at", "<", end_utc),
            ("starts_at", ">", start_utc - MAX_BOOKING),
            ("ends_at", ">", start_utc),
        ],
        order_by=("starts_at", "id"),
        counts={"session_total": (PlannedSession, "plan", "plan")},
    )
    bookings = found
    booked_chairs = {b.chair_id for b in bookings}
    # A clinic has a handful of chairs: read them all, keep the active and the booked ones.
    chairs = [c for c in Chair.objects.order_by("name", "id") if c.active or c.pk in booked_chairs]
    periods: dict[int, list[tuple[dt.time, dt.time]]] = {c.pk: [] for c in chairs}
    active = {c.pk for c in chairs if c.active}
    # That weekday's open periods of the active chairs (an inactive chair is closed).
    for chair_id, opening, closing in (
        OpeningHours.objects.filter(active=True, weekday=day.weekday())
        .order_by("opens")
        .values_list("chair_id", "opens", "closes")
    ):
        if chair_id in active:
            periods[chair_id].append((opening, closing))
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
    local_instants = [to_local(t) for t in instants]
    rows = [Row(label=t.strftime("%H:%M"), on_the_hour=t.minute == 0) for t in local_instants]
    cards: list[Card] = []
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
            # Joined in; none yet raises RelatedObjectDoesNotExist (an AttributeError).
            session = getattr(booking, "infusion_session", None)
            status, label = _session_status(booking, session)
            plan, planned = booking.plan, booking.planned_session
            card = Card(
                booking_id=booking.pk,
                patient_id=booking.patient_id,
                patient_name=booking.patient.full_name,
                starts_at=booking.starts_at,
                ends_at=booking.ends_at,
                rowspan=last - first,
                session_number=planned.number if planned else None,
                session_total=getattr(booking, "session_total", None) if plan else None,
                drug=plan.get_drug_display() if plan else "",
                rate=planned_rates(planned.steps) if planned else "",
                status=status,
                status_label=label,
                session_url=_url("infusions:session", "session_id", session.pk)
                if session is not None
                else None,
                open_url=_url("infusions:open", "booking_id", booking.pk)
                if session is None
                else None,
            )
            cards.append(card)
            column[first] = Cell("card", card, last - first)
            for i in range(first + 1, last):
                column[i] = Cell("covered")
            taken_until = last
        for i, local in enumerate(local_instants):
            cell = column[i]
            if cell is None:
                is_open = any(o <= local.time() < c for o, c in periods[chair.pk])
                cell = Cell("free" if is_open else "closed")
            if cell.kind != "covered":
                rows[i].cells.append(cell)
    return Board(day=day, chairs=chairs, rows=rows, cards=cards)


def _card_html(card: Card, *, can_view_chart: bool, can_open_chart: bool, csrf_token: str) -> str:
    booking_url = _url("scheduling:booking", "booking_id", card.booking_id)
    parts = [
        f'<td rowspan="{card.rowspan}" class="slot card-cell st-{escape(card.status)}">'
        f'<div class="bcard"><div class="b-time">{card.local_start:%H:%M}–{card.local_end:%H:%M}'
        f'</div><div class="b-name"><a href="{booking_url}">'
        f"{escape(card.patient_name)}</a></div>"
    ]
    if card.session_number:
        parts.append(
            f'<div class="b-session">Session {card.session_number} of {card.session_total}</div>'
        )
    if card.drug:
        parts.append(f'<div class="b-drug">{escape(card.drug)} · {escape(card.rate)}</div>')
    parts.append(f'<div class="b-status">{escape(card.status_label)}</div>')
    if card.session_url and can_view_chart:
        parts.append(f'<a class="button b-action" href="{escape(card.session_url)}">Open chart</a>')
    elif card.open_url and can_open_chart:
        parts.append(
            f'<form method="post" action="{escape(card.open_url)}">'
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(csrf_token)}">'
            '<button class="primary b-action" type="submit">Open chart</button></form>'
        )
    parts.append("</div></td>")
    return "".join(parts)


def grid_html(
    board: Board, *, can_view_chart: bool, can_open_chart: bool, csrf_token: str
) -> SafeString:
    """The board's table body, built once in Python: a busy day is a few hundred cells, and
    rendering them one template node at a time was most of the page's time."""
    out: list[str] = []
    for row in board.rows:
        label = escape(row.label)
        out.append(
            f'<tr class="hour"><th class="time-col" scope="row">{label}</th>'
            if row.on_the_hour
            else f'<tr class=""><th class="time-col" scope="row">'
            f'<span class="quarter">{label}</span></th>'
        )
        for cell in row.cells:
            if cell.kind == "card" and cell.card is not None:
                out.append(
                    _card_html(
                        cell.card,
                        can_view_chart=can_view_chart,
                        can_open_chart=can_open_chart,
                        csrf_token=csrf_token,
                    )
                )
            else:
                out.append(f'<td class="slot {escape(cell.kind)}"></td>')
        out.append("</tr>")
    # Every text value above went through escape(); numbers and times are ours.
    return mark_safe("".join(out))  # noqa: S308


def _exists(day: dt.date, wall: dt.time) -> bool:
    from painclinic.web.lib.clinictime import LocalTimeError

    try:
        to_utc(day, wall)
    except LocalTimeError:
        return False
    return True
