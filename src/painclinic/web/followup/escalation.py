"""Safety escalation of a submitted follow-up time point (issue 12 item 4).

Called by ``services.do_submit_time_point`` inside its transaction: the clinical core's rules
(``painclinic.clinical.escalation``) read the PHQ-9 answers and the pain score against the
series' baseline and previous time point; anything they fire becomes one task on the
clinicians' worklist (``worklist.services.do_raise_task``) for the physician who prescribed the
series, at the most urgent level fired, audited with every rule and its values.

The series' baseline is the time point keyed ``baseline`` (``followup_policy.json``); the
previous time point is the last one answered before this one, after the baseline (a rise from
the baseline is its own rule, so the two never report the same comparison twice).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from painclinic.clinical.escalation import (
    Escalation,
    EscalationResult,
    FollowUpAnswers,
    evaluate,
    load_escalation_policy,
)
from painclinic.clinical.instruments.scales import PHQ9_OPTIONS
from painclinic.web.followup.models import FollowUpResponse, FollowUpTimePoint, ResponseStatus
from painclinic.web.lib.service import Actor
from painclinic.web.treatments.models import TreatmentPlan
from painclinic.web.worklist.models import TaskKind
from painclinic.web.worklist.services import do_raise_task

BASELINE_KEY = "baseline"
SOURCE_TYPE = "followup_time_point"


def _earlier_nrs(point: FollowUpTimePoint) -> tuple[int | None, int | None]:
    """(baseline NRS, previous NRS after the baseline) of the series, before ``point``."""
    rows = list(
        FollowUpResponse.objects.filter(
            time_point__plan_id=point.plan_id,
            instrument="nrs",
            status=ResponseStatus.SUBMITTED,
            time_point__due_on__lt=point.due_on,
        )
        .exclude(time_point_id=point.pk)
        .order_by("time_point__due_on", "id")
        .values_list("time_point__key", "score")
    )
    scores = [(key, None if score is None else round(score)) for key, score in rows]
    baseline = next((s for key, s in scores if key == BASELINE_KEY), None)
    later = [s for key, s in scores if key != BASELINE_KEY]
    return baseline, (later[-1] if later else None)


def answers_of(point: FollowUpTimePoint, results: dict[str, dict[str, Any]]) -> FollowUpAnswers:
    phq9 = results.get("phq9")
    nrs = results.get("nrs")
    items = tuple(int(v) for v in phq9["answers"]["items"]) if phq9 else None
    now = None if nrs is None or nrs["score"] is None else round(nrs["score"])
    baseline, previous = _earlier_nrs(point) if now is not None else (None, None)
    side_effects = results.get("side_effects") or {}
    reported = side_effects.get("score") == 1
    return FollowUpAnswers(
        phq9_items=items,
        nrs_score=now,
        baseline_nrs_score=None if point.key == BASELINE_KEY else baseline,
        previous_nrs_score=previous,
        # The patient's own answer to the follow-up's side-effect question.
        new_adverse_effects=(side_effects.get("band") or "not said which",) if reported else (),
    )


def _in_words(escalation: Escalation) -> str:
    """The finding's values, for the clinician (no rule ids)."""
    v = escalation.values
    if "phq9_item9" in v:
        return f"Item 9 answered {v['phq9_item9']} ({PHQ9_OPTIONS[v['phq9_item9']]})."
    if "phq9_total" in v:
        return f"PHQ-9 total {v['phq9_total']} of 27."
    if "baseline_nrs" in v:
        return f"Pain {v['nrs']}/10 now, {v['baseline_nrs']}/10 at baseline (+{v['rise_points']})."
    if "previous_nrs" in v:
        return (
            f"Pain {v['nrs']}/10 now, {v['previous_nrs']}/10 at the previous follow-up "
            f"(+{v['rise_points']})."
        )
    if "adverse_effects" in v:
        return "Reported: " + ", ".join(v["adverse_effects"]) + "."
    return ""


def summary_of(point: FollowUpTimePoint, result: EscalationResult) -> str:
    lines = [f"Follow-up: {point.label}."]
    lines += [f"{e.clinician_message} {_in_words(e)}" for e in result.escalations]
    return "\n".join(lines)


def escalate_submission(
    actor: Actor,
    point: FollowUpTimePoint,
    results: dict[str, dict[str, Any]],
    now: dt.datetime,
) -> EscalationResult:
    """Evaluate the escalation rules on a submission; raise a worklist task if any fired."""
    result = evaluate(answers_of(point, results), load_escalation_policy())
    if result.urgency is None:
        return result
    plan = TreatmentPlan.objects.select_related("prescribed_by").get(pk=point.plan_id)
    do_raise_task(
        actor,
        point.patient,
        TaskKind.FOLLOWUP_ANSWERS,
        result.urgency.value,
        summary_of(point, result),
        source_type=SOURCE_TYPE,
        source_id=point.pk,
        assigned_to=plan.prescribed_by,
        findings=[
            {**e.to_dict(), "time_point": point.key, "policy_version": result.policy_version}
            for e in result.escalations
        ],
        now=now,
    )
    return result
