"""Each plan's track from the records: infusion days, dose given, follow-up scores, and the
trial-history input of the clinical core's outcome engine (``painclinic.clinical.outcomes``).

One entry per treatment plan that was given (or is still to be given), in date order:

* ``drug``: the plan's drug; ``kind``: ``booster`` when the plan is the first of its drug
  after a physician accepted a booster recommendation, else ``trial``;
* ``total_dose_mg`` and ``duration_h``: summed over the plan's infusions that ran (every rate
  segment: rate x its duration); None when no infusion was charted;
* ``completed``: every non-cancelled booking of the plan has an infusion that ran;
* ``baseline_nrs``: the NRS of the plan's baseline time point (before the first infusion);
* ``followups``: NRS and PGIC of each completed time point after the series, ``day`` = days
  from the last infusion to the day the answers were submitted (clinic time).

A plan without a baseline NRS cannot be judged: it is left out of the history and named
(``missing_baseline``) so the page asks for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from painclinic.web.followup.models import FollowUpResponse, ResponseStatus, TimePointStatus
from painclinic.web.infusions.models import InfusionSession, RateSegment, SessionStatus
from painclinic.web.lib.clinictime import to_local
from painclinic.web.scheduling.models import Booking, BookingStatus
from painclinic.web.treatments.models import PlanStatus, TreatmentPlan

# An infusion "ran" once it was started: these statuses come after the start.
GIVEN = (
    SessionStatus.RUNNING,
    SessionStatus.PAUSED,
    SessionStatus.STOPPED,
    SessionStatus.DISCHARGED,
    SessionStatus.SIGNED,
)
BOOSTERS = {"ketamine_booster": "ketamine", "lidocaine_booster": "lidocaine"}


@dataclass
class Scores:
    """One completed time point's scores (None: not answered)."""

    key: str
    label: str
    on: dt.date
    nrs: float | None = None
    pgic: float | None = None
    bpi_interference: float | None = None
    phq9: float | None = None


@dataclass
class PlanTrack:
    plan: TreatmentPlan
    kind: str = "trial"
    infusion_days: list[dt.date] = field(default_factory=list)
    booked_days: list[dt.date] = field(default_factory=list)
    total_dose_mg: float | None = None
    duration_h: float | None = None
    completed: bool = False
    baseline: Scores | None = None
    after: list[Scores] = field(default_factory=list)

    @property
    def first_day(self) -> dt.date | None:
        days = self.infusion_days or self.booked_days
        return days[0] if days else None

    @property
    def last_day(self) -> dt.date | None:
        days = self.infusion_days or self.booked_days
        return days[-1] if days else None

    @property
    def baseline_nrs(self) -> int | None:
        if self.baseline is None or self.baseline.nrs is None:
            return None
        return round(self.baseline.nrs)

    def followups(self) -> list[dict[str, Any]]:
        """The engine's follow-ups: strictly increasing days, NRS answered."""
        out: list[dict[str, Any]] = []
        last = self.last_day
        if last is None:
            return out
        for s in self.after:
            if s.nrs is None:
                continue
            day = (s.on - last).days
            if day < 0 or (out and day <= out[-1]["day"]):
                continue
            pgic = None if s.pgic is None else round(s.pgic)
            out.append({"day": day, "nrs": round(s.nrs), "pgic": pgic})
        return out

    def at(self, key: str) -> Scores | None:
        return next((s for s in self.after if s.key == key), None)

    def entry(self) -> dict[str, Any] | None:
        if self.baseline_nrs is None:
            return None
        return {
            "drug": self.plan.drug,
            "kind": self.kind,
            "total_dose_mg": None if self.total_dose_mg is None else round(self.total_dose_mg, 3),
            "duration_h": None if self.duration_h is None else round(self.duration_h, 3),
            "completed": self.completed,
            "baseline_nrs": self.baseline_nrs,
            "stopped_for": None,
            "followups": self.followups(),
        }


def load_tracks(
    plans: Iterable[TreatmentPlan],
    booster_accepted_at: dict[str, list[dt.datetime]] | None = None,
    *,
    details: bool = True,
) -> list[PlanTrack]:
    """Tracks of ``plans`` (one patient's, or a batch) in a fixed number of queries.

    ``booster_accepted_at``: drug -> when a booster for it was accepted (one patient's plans
    only). ``details`` loads BPI interference and PHQ-9 as well (the charts).
    """
    plans = sorted(plans, key=lambda p: (p.prescribed_at, p.pk))
    tracks = {p.pk: PlanTrack(p) for p in plans}
    if not tracks:
        return []
    ids = list(tracks)
    ran: dict[int, set[int]] = defaultdict(set)
    for plan_id, starts, booking_status, session_id, session_status in (
        Booking.objects.filter(plan_id__in=ids)
        .order_by("starts_at")
        .values_list(
            "plan_id", "starts_at", "status", "infusion_session__id", "infusion_session__status"
        )
    ):
        day = to_local(starts).date()
        if booking_status != BookingStatus.CANCELLED:
            tracks[plan_id].booked_days.append(day)
        if session_id is not None and session_status in GIVEN:
            ran[plan_id].add(session_id)
            if day not in tracks[plan_id].infusion_days:
                tracks[plan_id].infusion_days.append(day)
    for plan_id, started, ended, rate in RateSegment.objects.filter(
        session__plan_id__in=ids, session__status__in=GIVEN, ended_at__isnull=False
    ).values_list("session__plan_id", "started_at", "ended_at", "rate_mg_per_h"):
        track = tracks[plan_id]
        assert ended is not None  # filtered above
        hours = (ended - started).total_seconds() / 3600
        track.total_dose_mg = (track.total_dose_mg or 0.0) + float(rate) * hours
        if rate > 0:
            track.duration_h = (track.duration_h or 0.0) + hours
    for plan_id, track in tracks.items():
        track.completed = bool(ran[plan_id]) and len(ran[plan_id]) >= len(track.booked_days)
    # The submitted answers of completed time points, with their time point (one query).
    wanted = ["nrs", "pgic", "bpi", "phq9"] if details else ["nrs", "pgic"]
    fields = ["time_point_id", "instrument", "score"] + (["result"] if details else [])
    point_fields = ["plan_id", "key", "label", "completed_at", "due_on"]
    points: dict[int, dict[str, Any]] = {}
    scores: dict[int, Scores] = {}
    for row in FollowUpResponse.objects.filter(
        time_point__plan_id__in=ids,
        time_point__status=TimePointStatus.COMPLETED,
        status=ResponseStatus.SUBMITTED,
        instrument__in=wanted,
    ).values(*fields, *(f"time_point__{f}" for f in point_fields)):
        pk = row["time_point_id"]
        if pk not in points:
            point = {f: row[f"time_point__{f}"] for f in point_fields}
            points[pk] = point
            done = point["completed_at"]
            on = to_local(done).date() if done else point["due_on"]
            scores[pk] = Scores(point["key"], point["label"], on)
        s = scores[pk]
        instrument = row["instrument"]
        if instrument == "nrs":
            s.nrs = row["score"]
        elif instrument == "pgic":
            s.pgic = row["score"]
        elif instrument == "phq9":
            s.phq9 = row["score"]
        elif instrument == "bpi":
            detail = (row.get("result") or {}).get("details") or {}
            value = detail.get("interference")
            s.bpi_interference = None if value is None else float(value)
    for pk, row in points.items():
        track = tracks[row["plan_id"]]
        if row["key"] == "baseline":
            track.baseline = scores[pk]
        else:
            track.after.append(scores[pk])
    for track in tracks.values():
        track.after.sort(key=lambda s: (s.on, s.key))
    ordered = sorted(
        tracks.values(), key=lambda t: (t.first_day or dt.date.max, t.plan.prescribed_at)
    )
    if booster_accepted_at:
        used: set[dt.datetime] = set()
        for track in ordered:
            for at in booster_accepted_at.get(track.plan.drug, []):
                if at not in used and at <= track.plan.prescribed_at:
                    track.kind = "booster"
                    used.add(at)
                    break
    return ordered


def patient_plans(patient_id: int) -> list[TreatmentPlan]:
    """A patient's plans that count: cancelled plans only if an infusion of them ran."""
    plans = list(TreatmentPlan.objects.filter(patient_id=patient_id))
    cancelled = [p.pk for p in plans if p.status == PlanStatus.CANCELLED]
    given = (
        set(
            InfusionSession.objects.filter(plan_id__in=cancelled, status__in=GIVEN).values_list(
                "plan_id", flat=True
            )
        )
        if cancelled
        else set()
    )
    return [p for p in plans if p.status != PlanStatus.CANCELLED or p.pk in given]


def trial_history(tracks: list[PlanTrack]) -> dict[str, Any]:
    """The engine's input: one entry per plan with a baseline NRS, in date order."""
    return {"trials": [e for e in (t.entry() for t in tracks) if e is not None]}


def basis_key(history: dict[str, Any]) -> str:
    """A stable fingerprint of a trial history (the recommendation card it gives)."""
    text = json.dumps(history, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
