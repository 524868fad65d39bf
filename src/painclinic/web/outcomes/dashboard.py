"""The clinic's outcome figures, aggregated in the database (a fixed number of queries
whatever the number of patients): responder rates with 95% Wilson intervals, time to loss of
response, adverse events per 100 infusions, follow-up completion by time point.

Small cells: a figure resting on fewer than ``SMALL_CELL`` patients is shown on the page to
the clinicians (who may see the records anyway) but suppressed ("<5") in an export.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db.models import Count, Max, Q

from painclinic.clinical import load_conditions
from painclinic.clinical.followup import load_followup_policy
from painclinic.web.followup.models import FollowUpTimePoint, TimePointStatus
from painclinic.web.infusions.models import AdverseEvent, AESeverity, AEType, InfusionSession
from painclinic.web.lib import policies
from painclinic.web.outcomes.history import GIVEN
from painclinic.web.outcomes.models import PlanOutcome
from painclinic.web.outcomes.stats import wilson_interval

SMALL_CELL = 5
# A computed dashboard is reused for at most this long, and only while no plan's outcome was
# recomputed and no adverse event recorded since (then it is computed again at once).
CACHE_SECONDS = 600


@dataclass(frozen=True)
class Rate:
    """``successes`` of ``trials`` with its 95% Wilson interval, over ``patients`` patients."""

    successes: int
    trials: int
    patients: int

    @property
    def proportion(self) -> float | None:
        return self.successes / self.trials if self.trials else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.successes, self.trials)


@dataclass(frozen=True)
class ResponderRow:
    condition: str
    protocol: str
    drug: str
    week_4: Rate
    week_12: Rate


@dataclass(frozen=True)
class LossRow:
    protocol: str
    responders: int
    lost: int
    median_days: float | None
    patients: int


@dataclass(frozen=True)
class AdverseRow:
    event_type: str
    severity: str
    events: int
    patients: int
    per_100: float


@dataclass(frozen=True)
class CompletionRow:
    label: str
    completed: int
    due: int
    patients: int

    @property
    def percent(self) -> float | None:
        return 100 * self.completed / self.due if self.due else None


@dataclass
class Dashboard:
    responders: list[ResponderRow] = field(default_factory=list)
    loss: list[LossRow] = field(default_factory=list)
    adverse: list[AdverseRow] = field(default_factory=list)
    sessions: int = 0
    completion: list[CompletionRow] = field(default_factory=list)


def _names() -> tuple[dict[str, str], dict[str, str]]:
    conditions = {k: v.name for k, v in load_conditions().conditions.items()}
    protocols = {k: p.title for k, p in policies.protocols().protocols.items()}
    return conditions, protocols


def _median_from_counts(counts: dict[int, int]) -> float | None:
    """Median of a list given as value -> how many times (mean of the two middle values)."""
    total = sum(counts.values())
    if total == 0:
        return None
    middle = ((total - 1) // 2, total // 2)
    picked: list[int] = []
    seen = 0
    for value in sorted(counts):
        for index in middle:
            if seen <= index < seen + counts[value]:
                picked.append(value)
        seen += counts[value]
    return (picked[0] + picked[1]) / 2


def stamp(today: dt.date) -> str:
    """What the figures depend on that changes often, read from indexes (two cheap queries):
    the day, the latest outcome summary written, the latest adverse event recorded."""
    latest = PlanOutcome.objects.aggregate(at=Max("refreshed_at"))["at"]
    last_event = AdverseEvent.objects.aggregate(last=Max("id"))["last"]
    return f"{today.isoformat()}|{latest.isoformat() if latest else '-'}|{last_event or 0}"


def current(today: dt.date) -> tuple[Dashboard, bool]:
    """The dashboard for ``today``: reused from the cache while its stamp holds (at most
    ``CACHE_SECONDS``), else built. Returns (dashboard, whether it was computed now)."""
    key = "outcomes-dashboard:" + stamp(today)
    cached = cache.get(key)
    if isinstance(cached, Dashboard):
        return cached, False
    board = build(today)
    cache.set(key, board, CACHE_SECONDS)
    return board, True


def build(today: dt.date) -> Dashboard:
    """Every figure, aggregated in the database now."""
    conditions, protocols = _names()
    board = Dashboard()
    assessed_4 = Q(responder_week_4__isnull=False)
    assessed_12 = Q(responder_week_12__isnull=False)
    for row in (
        PlanOutcome.objects.values("condition", "protocol_id", "drug")
        .annotate(
            n4=Count("id", filter=assessed_4),
            k4=Count("id", filter=Q(responder_week_4=True)),
            p4=Count("patient_id", filter=assessed_4, distinct=True),
            n12=Count("id", filter=assessed_12),
            k12=Count("id", filter=Q(responder_week_12=True)),
            p12=Count("patient_id", filter=assessed_12, distinct=True),
        )
        .filter(Q(n4__gt=0) | Q(n12__gt=0))
        .order_by("condition", "protocol_id")
    ):
        board.responders.append(
            ResponderRow(
                condition=conditions.get(row["condition"], "Condition not recorded"),
                protocol=protocols.get(row["protocol_id"], row["protocol_id"]),
                drug=row["drug"].capitalize(),
                week_4=Rate(row["k4"], row["n4"], row["p4"]),
                week_12=Rate(row["k12"], row["n12"], row["p12"]),
            )
        )
    # Time to loss: a histogram of the day relief was lost, per protocol (bounded rows).
    lost_days: dict[str, dict[int, int]] = defaultdict(dict)
    responders: dict[str, tuple[int, int]] = {}
    for loss in (
        PlanOutcome.objects.filter(responded=True)
        .values("protocol_id")
        .annotate(n=Count("id"), patients=Count("patient_id", distinct=True))
    ):
        responders[loss["protocol_id"]] = (loss["n"], loss["patients"])
    for day in (
        PlanOutcome.objects.filter(responded=True, relief_lost_day__isnull=False)
        .values("protocol_id", "relief_lost_day")
        .annotate(n=Count("id"))
    ):
        lost_days[day["protocol_id"]][int(day["relief_lost_day"] or 0)] = day["n"]
    for protocol_id in sorted(responders):
        counts = lost_days.get(protocol_id, {})
        n, patients = responders[protocol_id]
        board.loss.append(
            LossRow(
                protocol=protocols.get(protocol_id, protocol_id),
                responders=n,
                lost=sum(counts.values()),
                median_days=_median_from_counts(counts),
                patients=patients,
            )
        )
    # Adverse events per 100 infusions that ran.
    board.sessions = InfusionSession.objects.filter(status__in=GIVEN).count()
    types, severities = dict(AEType.choices), dict(AESeverity.choices)
    if board.sessions:
        for ae in (
            AdverseEvent.objects.filter(session__status__in=GIVEN)
            .values("event_type", "severity")
            .annotate(n=Count("id"), patients=Count("session__patient_id", distinct=True))
            .order_by("event_type", "severity")
        ):
            board.adverse.append(
                AdverseRow(
                    event_type=str(types.get(ae["event_type"], ae["event_type"])),
                    severity=str(severities.get(ae["severity"], ae["severity"])),
                    events=ae["n"],
                    patients=ae["patients"],
                    per_100=100 * ae["n"] / board.sessions,
                )
            )
    # Follow-up completion: completed / due so far (due date passed, or already answered).
    policy = load_followup_policy()
    counted = {
        row["key"]: row
        for row in FollowUpTimePoint.objects.filter(
            Q(due_on__lte=today) | Q(status=TimePointStatus.COMPLETED)
        )
        .exclude(status=TimePointStatus.CANCELLED)
        .values("key")
        .annotate(
            due=Count("id"),
            done=Count("id", filter=Q(status=TimePointStatus.COMPLETED)),
            patients=Count("patient_id", distinct=True),
        )
    }
    for rule in policy.time_points:
        point = counted.get(rule.key)
        if point:
            board.completion.append(
                CompletionRow(rule.label, point["done"], point["due"], point["patients"])
            )
    return board
