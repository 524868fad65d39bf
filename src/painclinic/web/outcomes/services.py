"""Outcome services and reads: a patient's trajectory with the engine's next step, and a
physician's decision on it (``do_decide_recommendation``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from painclinic.clinical import ProtocolLibrary
from painclinic.clinical.outcomes import (
    DurabilityResult,
    Recommendation,
    RecommendationResult,
    assess_durability,
    recommend,
)
from painclinic.clinical.protocols import offered_protocols
from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.lib import policies
from painclinic.web.lib.service import Actor, Refused, service
from painclinic.web.outcomes.history import (
    BOOSTERS,
    PlanTrack,
    basis_key,
    load_tracks,
    patient_plans,
    trial_history,
)
from painclinic.web.outcomes.models import Decision, RecommendationDecision
from painclinic.web.outcomes.roles import ROLES
from painclinic.web.patients.models import Patient
from painclinic.web.treatments.services import inpatient_service

OUTCOME_CATEGORY = Category.FOLLOWUP
MAX_REASON = 2000

# What each next step is called on the card, and what accepting it does.
TITLES = {
    Recommendation.START_KETAMINE_TRIAL: "Start with a single ketamine trial infusion",
    Recommendation.AWAIT_FOLLOW_UP: "Wait for the follow-up answers",
    Recommendation.CONTINUE_FOLLOW_UP: "Relief continues: keep following up",
    Recommendation.KETAMINE_BOOSTER: "Ketamine booster",
    Recommendation.LIDOCAINE_BOOSTER: "Lidocaine booster",
    Recommendation.REPEAT_KETAMINE_TRIAL: "Repeat the ketamine trial",
    Recommendation.LIDOCAINE_TRIAL: "Offer a lidocaine trial",
    Recommendation.REPEAT_LIDOCAINE_TRIAL: "Repeat the lidocaine trial",
    Recommendation.STOP: "Stop infusion therapy",
    Recommendation.PHYSICIAN_REVIEW: "Physician review",
    Recommendation.COMPLETE_ASSESSMENT: "Complete the assessment (global impression missing)",
}
# Accepting these starts the matching step of the treatment workflow (a new plan).
TREATMENT_STEPS = {
    Recommendation.START_KETAMINE_TRIAL,
    Recommendation.KETAMINE_BOOSTER,
    Recommendation.LIDOCAINE_BOOSTER,
    Recommendation.REPEAT_KETAMINE_TRIAL,
    Recommendation.LIDOCAINE_TRIAL,
    Recommendation.REPEAT_LIDOCAINE_TRIAL,
}
# Nothing to accept: the card only says what is awaited.
INFORMATIONAL = {Recommendation.AWAIT_FOLLOW_UP, Recommendation.CONTINUE_FOLLOW_UP}
STATUS_WORDS = {
    "no_follow_up": "No follow-up answers yet",
    "responded": "Responder",
    "undecided": "Undecided (global impression missing)",
    "no_response": "No response",
}


@dataclass
class TrackView:
    track: PlanTrack
    title: str
    durability: DurabilityResult | None
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.track.baseline_nrs is None:
            return "Not assessed: no pain score before the first infusion"
        if self.durability is None:
            return STATUS_WORDS["no_follow_up"]
        return STATUS_WORDS[self.durability.status.value]

    @property
    def relief(self) -> str:
        d = self.durability
        if d is None or not d.responded:
            return ""
        if d.ongoing:
            return f"Relief since day {d.first_response_day:g} after the series, still ongoing."
        return (
            f"Relief from day {d.first_response_day:g} to day {d.relief_lost_day:g} after the "
            f"series: {d.relief_duration_days:g} days."
        )


@dataclass
class PatientOutcome:
    tracks: list[TrackView]
    history: dict[str, Any]
    basis: str
    result: RecommendationResult
    decision: RecommendationDecision | None
    missing_baseline: list[str]
    protocol_id: str

    @property
    def title(self) -> str:
        return TITLES[self.result.recommendation]

    @property
    def not_before(self) -> dt.date | None:
        """The date a booster may be given from (the engine's day after the last infusion)."""
        day = self.result.not_before_day
        entries = [v.track for v in self.tracks if v.track.entry() is not None]
        last = entries[-1].last_day if entries else None
        if day is None or last is None:
            return None
        return last + dt.timedelta(days=int(day))

    @property
    def decidable(self) -> bool:
        return self.result.recommendation not in INFORMATIONAL and not self.missing_baseline

    @property
    def starts_treatment(self) -> bool:
        return self.result.recommendation in TREATMENT_STEPS and bool(self.protocol_id)


def _protocol_for(rec: Recommendation, tracks: list[PlanTrack], library: ProtocolLibrary) -> str:
    """The protocol the matching treatment step starts with ('' if none is offered)."""
    offered = {p.id: p for p in offered_protocols(library, inpatient_service=inpatient_service())}

    def latest(drug: str) -> str:
        for t in reversed(tracks):
            if t.plan.drug == drug and t.plan.protocol_id in offered:
                return t.plan.protocol_id
        return ""

    def first(drug: str) -> str:
        return next((p.id for p in offered.values() if p.drug == drug), "")

    if rec == Recommendation.START_KETAMINE_TRIAL:
        return "ket-single-session-trial" if "ket-single-session-trial" in offered else ""
    if rec in (Recommendation.KETAMINE_BOOSTER, Recommendation.REPEAT_KETAMINE_TRIAL):
        return latest("ketamine") or first("ketamine")
    if rec == Recommendation.LIDOCAINE_TRIAL:
        return first("lidocaine")
    if rec in (Recommendation.LIDOCAINE_BOOSTER, Recommendation.REPEAT_LIDOCAINE_TRIAL):
        return latest("lidocaine") or first("lidocaine")
    return ""


def _rows(track: PlanTrack, durability: DurabilityResult | None) -> list[dict[str, Any]]:
    results = list(durability.per_followup) if durability else []
    rows = []
    for f, r in zip(track.followups(), results, strict=False):
        change = r.change.percent_reduction
        rows.append(
            {
                "day": f["day"],
                "nrs": f["nrs"],
                "change": None if change is None else change,
                "pgic": f["pgic"],
                "responder": r.responder,
            }
        )
    return rows


def patient_outcome(patient: Patient, library: ProtocolLibrary | None = None) -> PatientOutcome:
    """The patient's tracks, the engine's classification and next step, and the decision
    already taken on that next step (if any). A fixed number of queries."""
    library = library or policies.protocols()
    titles = {k: p.title for k, p in library.protocols.items()}
    decisions = list(
        RecommendationDecision.objects.filter(patient=patient).select_related("decided_by")
    )
    accepted: dict[str, list[dt.datetime]] = {}
    for d in decisions:
        if d.decision == Decision.ACCEPTED and d.recommendation in BOOSTERS:
            accepted.setdefault(BOOSTERS[d.recommendation], []).append(d.decided_at)
    for times in accepted.values():
        times.sort()
    tracks = load_tracks(patient_plans(patient.pk), accepted)
    policy = policies.responder_policy()
    views = []
    for t in tracks:
        follow = t.followups()
        dur = (
            assess_durability(t.baseline_nrs, follow, policy)
            if t.baseline_nrs is not None and follow
            else None
        )
        views.append(
            TrackView(t, titles.get(t.plan.protocol_id, "Treatment plan"), dur, _rows(t, dur))
        )
    history = trial_history(tracks)
    result = recommend(history, policy)
    basis = basis_key(history)
    rec = result.recommendation.value
    decision = next(
        (d for d in decisions if d.basis_key == basis and d.recommendation == rec), None
    )
    missing = [v.title for v in views if v.track.baseline_nrs is None]
    return PatientOutcome(
        views, history, basis, result, decision, missing,
        _protocol_for(result.recommendation, tracks, library),
    )  # fmt: skip


@service(ROLES.decide_recommendation, category=OUTCOME_CATEGORY, action=Action.CREATE)
def do_decide_recommendation(
    actor: Actor, patient_id: int, basis: str, decision: str, reason: str = ""
) -> RecommendationDecision:
    """Accept or dismiss the next step the engine gives for the patient now.

    ``basis`` is the fingerprint of the trial history the physician saw: when the answers or
    plans changed since, the card changed and the decision is refused. A dismissal needs the
    reason; a card is decided once. Accepting a treatment step records the protocol that the
    new plan starts with.
    """
    reason = (reason or "").strip()
    if decision not in Decision.values:
        raise Refused("Choose accept or dismiss.", "decision")
    if decision == Decision.DISMISSED and not reason:
        raise Refused("Give the reason for dismissing the recommendation.", "reason")
    if len(reason) > MAX_REASON:
        raise Refused(f"The reason is longer than {MAX_REASON} characters.", "reason")
    with transaction.atomic():
        patient = Patient.objects.select_for_update().filter(pk=patient_id).first()
        if patient is None:
            raise Refused("No such patient.", "patient")
        current = patient_outcome(patient)
        if current.basis != basis:
            raise Refused(
                "The recommendation changed since the page was opened (new answers or a new "
                "plan): read the new card and decide again.",
                "decision",
            )
        if not current.decidable:
            raise Refused("There is nothing to accept or dismiss yet.", "decision")
        if current.decision is not None:
            raise Refused("This recommendation was already decided.", "decision")
        rec = current.result.recommendation
        record = RecommendationDecision.objects.create(
            patient=patient,
            recommendation=rec.value,
            basis_key=basis,
            history=current.history,
            engine_result=current.result.to_dict(),
            decision=decision,
            reason=reason,
            protocol_id=current.protocol_id if decision == Decision.ACCEPTED else "",
            decided_by=actor.user,
            decided_at=timezone.now(),
        )
        audit(
            actor,
            category=OUTCOME_CATEGORY,
            action=Action.CREATE,
            patient=patient,
            obj=record,
            detail={
                "event": f"recommendation {decision}",
                "recommendation": rec.value,
                "rule_id": current.result.rule_id,
                "reason": reason,
                "protocol_id": record.protocol_id,
            },
        )
    return record
