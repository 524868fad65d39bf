"""The dose a patient gets over any 24 hours, across sessions, against the drug library's
24-hour limits (``total_24h_mg``: ketamine's soft 100 mg and hard 160 mg for outpatients, 480 mg and
960 mg for an inpatient protocol, lidocaine's hard 500 mg in the packaged library).

What counts: every rate segment of the patient's sessions of the same drug (a bolus is charted as
a short segment at its rate), cut exactly at the window's edges, plus what this session plans to
deliver from now. Which window: every 24 hours that ends between now and the end of the planned
remainder. The one ending with the planned remainder (all of it, with what was given in the 24
hours before) is the usual worst; when earlier infusions drop out of the window faster than the
plan adds, an earlier end is worse, and that one is reported. The total is a piecewise linear
function of the window's end, so its maximum is at one of the ends where a delivery starts or
stops entering or leaving the window; those are all evaluated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils import timezone

from painclinic.pharmacology.dosing import LIMIT_RTOL
from painclinic.pharmacology.druglibrary import Limit
from painclinic.pharmacology.enums import LimitBound, LimitLevel
from painclinic.web.infusions.models import InfusionSession, RateSegment
from painclinic.web.infusions.rules import drug_entry, fmt, plan_setting, plan_steps
from painclinic.web.lib.service import HardLimitRefused, Refused

WINDOW = dt.timedelta(hours=24)
QUANTITY = "total_24h_mg"
WITHIN, SOFT, HARD = "within", "soft_limit", "hard_limit"


@dataclass(frozen=True)
class Delivery:
    """A stretch of constant rate, given (``session_id`` set) or planned."""

    started_at: dt.datetime
    ended_at: dt.datetime
    rate_mg_per_h: Decimal
    session_id: int | None = None

    def mg_within(self, start: dt.datetime, end: dt.datetime) -> Decimal:
        """mg of this stretch inside [start, end): rate × the overlap's UTC seconds / 3600."""
        low, high = max(self.started_at, start), min(self.ended_at, end)
        if high <= low:
            return Decimal(0)
        return Decimal(self.rate_mg_per_h) * Decimal((high - low).total_seconds()) / Decimal(3600)


@dataclass(frozen=True)
class Window:
    """24 hours ending at ``end``: mg given in them and mg this session plans in them."""

    end: dt.datetime
    delivered_mg: Decimal
    planned_mg: Decimal
    by_session: dict[int, Decimal] = field(default_factory=dict)

    @property
    def start(self) -> dt.datetime:
        return self.end - WINDOW

    @property
    def total_mg(self) -> Decimal:
        return self.delivered_mg + self.planned_mg


def window_ending(
    past: Iterable[Delivery], planned: Iterable[Delivery], end: dt.datetime
) -> Window:
    start = end - WINDOW
    by_session: dict[int, Decimal] = {}
    for delivery in past:
        mg = delivery.mg_within(start, end)
        if mg and delivery.session_id is not None:
            by_session[delivery.session_id] = by_session.get(delivery.session_id, Decimal(0)) + mg
    planned_mg = sum((d.mg_within(start, end) for d in planned), Decimal(0))
    return Window(end, sum(by_session.values(), Decimal(0)), planned_mg, by_session)


def worst_window(
    past: list[Delivery],
    planned: list[Delivery],
    at: dt.datetime,
    *,
    end: dt.datetime | None = None,
) -> Window:
    """The 24 hours with the most drug among those ending from ``at`` to the end of the planned
    deliveries (or the one ending at ``end``); on a tie, the later one."""
    if end is not None:
        return window_ending(past, planned, end)
    last = max((d.ended_at for d in planned), default=at)
    ends = {at, last}
    for delivery in (*past, *planned):
        for edge in (delivery.started_at, delivery.ended_at):
            for candidate in (edge, edge + WINDOW):
                if at <= candidate <= last:
                    ends.add(candidate)
    windows = [window_ending(past, planned, e) for e in sorted(ends)]
    return max(windows, key=lambda w: (w.total_mg, w.end))


def _upper_limits(drug: str, setting: str = "outpatient") -> list[Limit]:
    """The drug's 24-hour upper limits for the clinic setting (outpatient or inpatient)."""
    return [
        limit
        for limit in drug_entry(drug).limits
        if limit.quantity == QUANTITY
        and limit.bound is LimitBound.UPPER
        and limit.setting in ("all", setting)
    ]


def _crossed(total: Decimal, limit: Limit) -> bool:
    value = Decimal(repr(float(limit.value)))
    return total > value + value * Decimal(repr(LIMIT_RTOL))


def _mg(value: Decimal) -> str:
    """mg as plain text for the audit trail: at most three decimals, no trailing zeros."""
    return format(value.quantize(Decimal("0.001")).normalize(), "f")


@dataclass(frozen=True)
class Cumulative:
    """The worst 24 hours of ``drug`` for a patient, and the drug library's verdict on it."""

    drug: str
    window: Window
    status: str
    limit: Limit | None

    @property
    def crossed(self) -> bool:
        return self.status != WITHIN

    def message(self) -> str:
        window = self.window
        end = timezone.localtime(window.end)
        text = (
            f"{self.drug.capitalize()} over 24 hours: {fmt(window.total_mg, 'mg')} in the 24 "
            f"hours to {end:%Y-%m-%d %H:%M} ({fmt(window.delivered_mg, 'mg')} given, this "
            f"and other sessions, + {fmt(window.planned_mg, 'mg')} planned for this session)"
        )
        if self.limit is None:
            return text + "."
        limit = fmt(self.limit.value, self.limit.unit)
        if self.status == HARD:
            return (
                f"{text} is above the hard limit {limit} of the drug library: refused, it cannot "
                "be overridden. Do not start: the physician re-plans or reschedules."
            )
        return f"{text} is above the soft limit {limit} of the drug library: give a reason."

    def detail(self) -> dict[str, Any]:
        """The values a refusal is audited with (units in the keys)."""
        window = self.window
        return {
            "drug": self.drug,
            "limit_quantity": QUANTITY,
            "delivered_24h_mg": _mg(window.delivered_mg),
            "planned_mg": _mg(window.planned_mg),
            "total_24h_mg": _mg(window.total_mg),
            "limit": self.limit.value if self.limit else None,
            "limit_unit": self.limit.unit if self.limit else "mg",
            "limit_level": str(self.limit.level) if self.limit else None,
            "limit_source": self.limit.source if self.limit else None,
            "window_start": window.start.isoformat(),
            "window_end": window.end.isoformat(),
            "delivered_by_session_mg": {str(k): _mg(v) for k, v in window.by_session.items()},
        }

    def check(self, reason: str) -> None:
        """Refuse beyond a hard limit (``HardLimitRefused``, never overridable) or above a soft
        limit without a reason (``Refused`` on ``limit_reason``), as the dose limits are."""
        if self.status == HARD:
            raise HardLimitRefused(self.message(), "dose_value", detail=self.detail())
        if self.status == SOFT and not reason.strip():
            raise Refused(self.message(), "limit_reason", detail=self.detail())


def given(session: InfusionSession, since: dt.datetime, at: dt.datetime) -> list[Delivery]:
    """What the patient was given of the session's drug from ``since`` (any session, this one
    included); a rate still running counts up to ``at``."""
    rows = (
        RateSegment.objects.filter(
            session__patient_id=session.patient_id,
            session__plan__drug=session.plan.drug,
            started_at__lt=at,
        )
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=since))
        .values_list("session_id", "started_at", "ended_at", "rate_mg_per_h")
    )
    return [
        Delivery(started, ended or at, Decimal(rate), session_id=session_id)
        for session_id, started, ended, rate in rows
    ]


def planned_by_steps(session: InfusionSession, start: dt.datetime) -> list[Delivery]:
    """The plan's steps as if the infusion started at ``start``."""
    return [
        Delivery(
            start + dt.timedelta(minutes=float(step["start_min"])),
            start + dt.timedelta(minutes=float(step["start_min"]) + float(step["duration_min"])),
            Decimal(str(step["rate_mg_per_h"])),
        )
        for step in plan_steps(session)
        if float(step.get("rate_mg_per_h") or 0) > 0
    ]


def cumulative_24h(
    session: InfusionSession, at: dt.datetime, planned: list[Delivery]
) -> Cumulative:
    """The worst 24 hours for the session's patient if ``planned`` is given from ``at``."""
    drug = session.plan.drug
    limits = _upper_limits(drug, plan_setting(session))
    if not limits:
        return Cumulative(drug, Window(at, Decimal(0), Decimal(0)), WITHIN, None)
    window = worst_window(given(session, at - WINDOW, at), planned, at)
    crossed = [limit for limit in limits if _crossed(window.total_mg, limit)]
    hard = [limit for limit in crossed if limit.level is LimitLevel.HARD]
    if hard:
        return Cumulative(drug, window, HARD, min(hard, key=lambda lim: lim.value))
    if crossed:
        return Cumulative(drug, window, SOFT, max(crossed, key=lambda lim: lim.value))
    return Cumulative(drug, window, WITHIN, None)
