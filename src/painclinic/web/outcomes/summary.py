"""Each plan's outcome summary (``PlanOutcome``), recomputed by the clinical core when one of
the plan's follow-up time points is completed, so the dashboard counts rows in the database
instead of re-scoring every answer on every view.

The responder status at 4 and 12 weeks is ``painclinic.clinical.outcomes.assess_response``
on the NRS and PGIC of that time point against the plan's baseline NRS; the loss of response
is ``assess_durability`` over every follow-up after the series.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models.signals import post_save
from django.utils import timezone

from painclinic.clinical.outcomes import (
    ResponderPolicy,
    assess_durability,
    assess_response,
)
from painclinic.web.assessments.models import EligibilityDecision
from painclinic.web.followup.models import FollowUpTimePoint, TimePointStatus
from painclinic.web.lib import policies
from painclinic.web.outcomes.history import PlanTrack, load_tracks
from painclinic.web.outcomes.models import PlanOutcome
from painclinic.web.treatments.models import TreatmentPlan

BATCH = 500
SUMMARY_FIELDS = [
    "drug", "protocol_id", "condition", "baseline_nrs", "responder_week_4",
    "responder_week_12", "responded", "relief_lost_day", "refreshed_at",
]  # fmt: skip


def _responder(track: PlanTrack, key: str, policy: ResponderPolicy) -> bool | None:
    base = track.baseline_nrs
    scores = track.at(key)
    if base is None or scores is None or scores.nrs is None:
        return None
    pgic = None if scores.pgic is None else round(scores.pgic)
    return assess_response(base, round(scores.nrs), pgic, policy).responder


def outcome_fields(track: PlanTrack, policy: ResponderPolicy) -> dict[str, Any]:
    """The summary of one plan (everything but the plan, patient and condition)."""
    responded, lost = False, None
    base = track.baseline_nrs
    followups = track.followups()
    if base is not None and followups:
        durability = assess_durability(base, followups, policy)
        responded = durability.responded
        lost = None if durability.relief_lost_day is None else int(durability.relief_lost_day)
    return {
        "drug": track.plan.drug,
        "protocol_id": track.plan.protocol_id,
        "baseline_nrs": base,
        "responder_week_4": _responder(track, "week_4", policy),
        "responder_week_12": _responder(track, "week_12", policy),
        "responded": responded,
        "relief_lost_day": lost,
    }


def _conditions(plans: list[TreatmentPlan]) -> dict[int, str]:
    """Each plan's condition: that of the eligibility decision it was checked against."""
    decision_ids: dict[int, int] = {
        p.pk: int(p.eligibility["decision_id"])
        for p in plans
        if isinstance(p.eligibility, dict) and p.eligibility.get("decision_id")
    }
    names = dict(
        EligibilityDecision.objects.filter(pk__in=set(decision_ids.values())).values_list(
            "pk", "condition"
        )
    )
    return {plan_id: names.get(d, "") for plan_id, d in decision_ids.items()}


def refresh_plans(plan_ids: Iterable[int]) -> int:
    """Recompute the summaries of ``plan_ids`` (batches of 500); returns how many."""
    policy = policies.responder_policy()
    ids = list(plan_ids)
    done = 0
    now = timezone.now()
    for start in range(0, len(ids), BATCH):
        plans = list(TreatmentPlan.objects.filter(pk__in=ids[start : start + BATCH]))
        conditions = _conditions(plans)
        tracks = load_tracks(plans, details=False)
        existing = {
            o.plan_id: o for o in PlanOutcome.objects.filter(plan_id__in=[p.pk for p in plans])
        }
        new, changed = [], []
        for track in tracks:
            values = outcome_fields(track, policy)
            values["condition"] = conditions.get(track.plan.pk, "")
            row = existing.get(track.plan.pk)
            if row is None:
                new.append(
                    PlanOutcome(
                        plan_id=track.plan.pk,
                        patient_id=track.plan.patient_id,
                        refreshed_at=now,
                        **values,
                    )
                )
            else:
                for name, value in values.items():
                    setattr(row, name, value)
                row.refreshed_at = now
                changed.append(row)
        PlanOutcome.objects.bulk_create(new)
        if changed:
            PlanOutcome.objects.bulk_update(changed, SUMMARY_FIELDS)
        done += len(tracks)
    return done


def _time_point_saved(sender: Any, instance: FollowUpTimePoint, **kwargs: Any) -> None:
    """A completed time point changes its plan's outcome: recompute it in the same
    transaction (the summary never disagrees with the answers it was computed from)."""
    if instance.status == TimePointStatus.COMPLETED:
        refresh_plans([instance.plan_id])


def connect() -> None:
    post_save.connect(
        _time_point_saved, sender=FollowUpTimePoint, dispatch_uid="outcomes.time_point_saved"
    )
