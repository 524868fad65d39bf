"""After the infusion: the recovery period and the home-discharge criteria, from the chart.

The decisions are ``painclinic.clinical.monitoring``'s (``evaluate_observation`` with the
recovery phase, ``assess_discharge``); this module only reads the chart's facts for them:
the pre-infusion baseline (the checklist's vital signs), when the drug stopped flowing, the
last recovery round, the open alerts, and the scores of the discharge form.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from painclinic.clinical import score as score_instrument
from painclinic.clinical.instruments.scales import discharge_min_score
from painclinic.clinical.monitoring import (
    BASELINE_MEASURES,
    DischargeDecision,
    DischargeFacts,
    MonitoringDecision,
    RecoveryRound,
    assess_discharge,
    evaluate_observation,
    padss_vital_signs_points,
)
from painclinic.web.infusions.models import (
    Alert,
    InfusionSession,
    Observation,
    ObservationPhase,
    PreInfusionChecklist,
    RateSegment,
    SessionStatus,
)
from painclinic.web.infusions.rules import monitoring_thresholds

STOPPED_STATUSES = (SessionStatus.STOPPED, SessionStatus.DISCHARGED, SessionStatus.SIGNED)
MEASURES = (
    "systolic_bp_mmhg",
    "diastolic_bp_mmhg",
    "heart_rate_bpm",
    "respiratory_rate_per_min",
    "spo2_percent",
    "rass",
    "moaas",
    "cadss6",
)


def baseline_for(session: InfusionSession) -> dict[str, float]:
    """The pre-infusion vital signs (the checklist's), for the rules relative to the
    patient's own baseline; empty before the checklist."""
    row = (
        PreInfusionChecklist.objects.filter(session=session)
        .only(*BASELINE_MEASURES, "session")
        .first()
    )
    if row is None:
        return {}
    return {k: float(getattr(row, k)) for k in BASELINE_MEASURES if getattr(row, k) is not None}


def infusion_ended_at(session: InfusionSession) -> dt.datetime | None:
    """When the drug last flowed (the end of the last rate segment) once the session is
    stopped; None while it runs or is paused."""
    if session.status not in STOPPED_STATUSES:
        return None
    ends = RateSegment.objects.filter(session=session, ended_at__isnull=False).values_list(
        "ended_at", flat=True
    )
    return max((end for end in ends if end is not None), default=None)


def phase_at(session: InfusionSession, at: dt.datetime) -> str:
    """``recovery`` for a round taken after the drug stopped, else ``infusion``."""
    ended = infusion_ended_at(session)
    return (
        ObservationPhase.RECOVERY
        if ended is not None and at >= ended
        else ObservationPhase.INFUSION
    )


def evaluate(
    session: InfusionSession, measures: Mapping[str, Any], symptoms: Any, phase: str,
    rate_mg_per_h: float, elapsed_min: float | None,
) -> MonitoringDecision:  # fmt: skip
    observation: dict[str, Any] = {k: v for k, v in measures.items() if v is not None}
    observation["symptoms"] = list(symptoms)
    if elapsed_min is not None:
        observation["elapsed_min"] = max(elapsed_min, 0.0)
    return evaluate_observation(
        observation,
        {
            "drug": session.plan.drug,
            "rate_mg_per_h": rate_mg_per_h,
            "baseline": baseline_for(session),
            "phase": phase,
        },
        thresholds=monitoring_thresholds(),
    )


def last_recovery_round(
    session: InfusionSession, ended: dt.datetime | None
) -> tuple[Observation, RecoveryRound] | None:
    """The latest recovery round, re-evaluated on today's rules (so a rule the clinic
    tightened since applies), with its minutes after the stop."""
    if ended is None:
        return None
    row = (
        Observation.objects.filter(session=session, phase=ObservationPhase.RECOVERY)
        .order_by("-observed_at", "-id")
        .first()
    )
    if row is None:
        return None
    decision = evaluate(
        session,
        {k: getattr(row, k) for k in MEASURES},
        row.symptoms or [],
        ObservationPhase.RECOVERY,
        0.0,
        None,
    )
    minutes = (row.observed_at - ended).total_seconds() / 60
    return row, RecoveryRound(minutes, decision, row.cadss6)


@dataclass(frozen=True)
class DischargeStatus:
    decision: DischargeDecision
    padss_vital_signs: int | None
    last_round: Observation | None
    ended_at: dt.datetime | None


def padss_total(vital_signs: int | None, answers: Mapping[str, int | None]) -> int | None:
    """The modified PADSS total (scored by the instrument) once every item is known."""
    if vital_signs is None or any(v is None for v in answers.values()):
        return None
    result = score_instrument("padss", {"vital_signs": vital_signs, **answers})
    return None if result.score is None else int(result.score)


def discharge_status(
    session: InfusionSession,
    at: dt.datetime,
    *,
    padss_answers: Mapping[str, int | None] | None = None,
    aldrete_score: int | None = None,
    escort_present: bool = False,
) -> DischargeStatus:
    """Every discharge criterion at ``at``: those the chart already knows (recovery time,
    recovery round, dissociation, alerts) and those of the discharge form when given."""
    ended = infusion_ended_at(session)
    last = last_recovery_round(session, ended)
    row, recovery_round = last if last is not None else (None, None)
    vital_points = None
    if row is not None:
        vital_points = padss_vital_signs_points(
            baseline_for(session), {k: getattr(row, k) for k in BASELINE_MEASURES}
        )
    padss_score = padss_total(vital_points, padss_answers) if padss_answers is not None else None
    thresholds = monitoring_thresholds()
    facts = DischargeFacts(
        drug=session.plan.drug,
        # A stop charted up to the clinic's tolerance ahead of now counts as just now.
        minutes_since_stop=max((at - ended).total_seconds() / 60, 0.0) if ended else None,
        last_round=recovery_round,
        padss_score=padss_score,
        padss_min_score=discharge_min_score("padss"),
        aldrete_score=aldrete_score,
        aldrete_min_score=discharge_min_score("aldrete"),
        escort_present=escort_present,
        open_alerts=Alert.objects.filter(session=session, acknowledged_at__isnull=True).count(),
    )
    return DischargeStatus(assess_discharge(facts, thresholds), vital_points, row, ended)


#: Criteria the discharge form answers (the chart lists the others as still to do).
FORM_CRITERIA = {"padss": "padss_activity", "aldrete": "activity", "escort": "escort_confirmed"}


def still_missing(status: DischargeStatus, *, include_form: bool) -> list[str]:
    """The unmet criteria in plain words (the form's own left out unless asked)."""
    return [c.message for c in status.decision.unmet if include_form or c.key not in FORM_CRITERIA]
