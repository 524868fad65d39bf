"""Assessments and eligibility decisions: each write in one transaction with its audit events.

The scoring and the eligibility rules live in :mod:`painclinic.clinical`; this module only
collects the inputs, calls the core, stores what it answered and audits it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from painclinic import clinical
from painclinic.web.accounts.models import Role
from painclinic.web.assessments.models import (
    Assessment,
    ChecklistItem,
    EligibilityDecision,
    EngineStatus,
    PhysicianDecision,
)
from painclinic.web.audit.services import Action, Category, Outcome, audit
from painclinic.web.lib.clinicdate import age_in_years, clinic_today
from painclinic.web.lib.service import Actor
from painclinic.web.patients.models import Patient, WeightMeasurement
from painclinic.web.patients.services import latest_weight

ASSESSMENT_CATEGORY: str = Category.ASSESSMENT
ELIGIBILITY_CATEGORY: str = Category.ELIGIBILITY

DRUGS = ("ketamine", "lidocaine")
CLINICIANS = frozenset({Role.PHYSICIAN, Role.NURSE})
PHYSICIANS = frozenset({Role.PHYSICIAN})


def _require(actor: Actor, roles: frozenset[Role]) -> None:
    """The services check the role themselves too (not only the page's role gate)."""
    if actor.user.role not in roles:
        raise PermissionDenied("this role may not do this")


class DecisionError(ValueError):
    """A decision the service refuses; ``field`` names the form field to show it on."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class ChecklistConflict(Exception):
    """Someone resolved (or changed) the checklist item after this page was opened."""

    def __init__(self, current: ChecklistItem) -> None:
        super().__init__("the checklist item changed while you were editing it")
        self.current = current


# --- reads ----------------------------------------------------------------------------------


def latest_eligibility_decision(patient: Patient, drug: str) -> EligibilityDecision | None:
    """The newest eligibility decision for ``drug`` (``final_status`` is one of eligible,
    eligible_with_cautions, not_eligible), or None when no physician has decided yet."""
    return (
        EligibilityDecision.objects.filter(patient=patient, drug=drug)
        .select_related("decided_by")
        .order_by("-decided_at", "-id")
        .first()
    )


def open_checklist_items(patient: Patient) -> QuerySet[ChecklistItem]:
    """Missing information still to be obtained (resolve each before the first infusion)."""
    return ChecklistItem.objects.filter(patient=patient, resolved_at__isnull=True).order_by(
        "created_at", "id"
    )


def current_assessments(patient: Patient) -> QuerySet[Assessment]:
    """Assessments that no correction has superseded, newest first."""
    return Assessment.objects.filter(patient=patient, superseded_by__isnull=True).order_by(
        "-completed_at", "-id"
    )


def latest_assessment(patient: Patient, instruments: tuple[str, ...]) -> Assessment | None:
    return current_assessments(patient).filter(instrument__in=instruments).first()


# --- assessments ----------------------------------------------------------------------------


def do_record_assessment(
    actor: Actor,
    patient: Patient,
    instrument: str,
    answers: dict[str, Any],
    *,
    supersedes: Assessment | None = None,
    correction_reason: str = "",
) -> Assessment:
    """Score ``answers`` with the clinical core and store answers and result.

    Raises ``clinical.ClinicalInputError`` (naming the item) before anything is written.
    A correction names the assessment it ``supersedes`` (same patient and instrument, not
    already corrected) and a reason; the original stays in the history.
    """
    _require(actor, CLINICIANS)
    result = clinical.score(instrument, answers).to_dict()
    with transaction.atomic():
        if supersedes is not None:
            locked = Assessment.objects.select_for_update().get(pk=supersedes.pk)
            if locked.patient_id != patient.pk or locked.instrument != instrument:
                raise DecisionError("__all__", "a correction must be of the same instrument")
            if Assessment.objects.filter(supersedes=locked).exists():
                raise DecisionError(
                    "__all__",
                    "this assessment has already been corrected; correct the newer one",
                )
            if not correction_reason.strip():
                raise DecisionError("correction_reason", "Say why the original is wrong.")
        score = result.get("score")
        assessment = Assessment.objects.create(
            patient=patient,
            instrument=instrument,
            answers=answers,
            result=result,
            score=float(score) if score is not None else None,
            band=result.get("band") or "",
            met=result.get("met"),
            flags=list(result.get("flags") or []),
            completed_by=actor.user,
            completed_at=timezone.now(),
            supersedes=supersedes,
            correction_reason=correction_reason.strip(),
        )
        audit(
            actor,
            category=ASSESSMENT_CATEGORY,
            action=Action.AMEND if supersedes else Action.CREATE,
            patient=patient,
            obj=assessment,
            detail={
                "area": "assessment",
                "instrument": instrument,
                "answers": answers,
                "result": result,
                **(
                    {"supersedes": supersedes.pk, "reason": assessment.correction_reason}
                    if supersedes
                    else {}
                ),
            },
        )
    return assessment


def trend(patient: Patient, instrument: str, limit: int = 12) -> list[Assessment]:
    """The current scores of one instrument, oldest first (for the small trend table)."""
    rows = list(
        current_assessments(patient)
        .filter(instrument=instrument)
        .select_related("completed_by")[:limit]
    )
    rows.reverse()
    return rows


# --- eligibility ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedFacts:
    """What the clinic already has on file for the facts JSON, with where it came from."""

    age_years: int
    weight: WeightMeasurement | None
    criteria_assessment: Assessment | None
    phq9: Assessment | None


def recorded_facts(patient: Patient, condition_id: str) -> RecordedFacts:
    condition = clinical.load_conditions().get(condition_id)
    return RecordedFacts(
        age_years=age_in_years(patient.date_of_birth, clinic_today()),
        weight=latest_weight(patient),
        criteria_assessment=latest_assessment(patient, tuple(condition.diagnostic_criteria)),
        phq9=latest_assessment(patient, ("phq9",)),
    )


def build_facts(patient: Patient, entered: dict[str, Any]) -> tuple[dict[str, Any], RecordedFacts]:
    """The facts JSON for ``assess_eligibility``: recorded data plus the physician's entries.

    ``entered`` holds the keys the form collects: condition, comorbidities (list of flags),
    current_medications, vitals, pregnancy, substance_use, psychiatric, ecg, labs,
    other_local_anaesthetic_within_4h and prior_treatments.
    """
    condition = entered["condition"]
    recorded = recorded_facts(patient, condition)
    criteria = None
    if recorded.criteria_assessment is not None:
        criteria = {
            "instrument": recorded.criteria_assessment.instrument,
            "met": recorded.criteria_assessment.met,
        }
    psychiatric = dict(entered["psychiatric"])
    # A PHQ-9 item 9 > 0 on file cannot be unticked here: a newer PHQ-9 clears it.
    if recorded.phq9 is not None and recorded.phq9.self_harm_risk:
        psychiatric["self_harm_risk"] = True
    facts = {
        "age_years": recorded.age_years,
        "weight_kg": float(recorded.weight.weight_kg) if recorded.weight else None,
        "diagnosis": {"condition": condition, "criteria": criteria},
        "prior_treatments": list(entered["prior_treatments"]),
        "comorbidities": {flag: True for flag in entered["comorbidities"]},
        "current_medications": list(entered["current_medications"]),
        "vitals": dict(entered["vitals"]),
        "pregnancy": entered["pregnancy"],
        "substance_use": dict(entered["substance_use"]),
        "psychiatric": psychiatric,
        "ecg": entered["ecg"],
        "labs": dict(entered["labs"]),
        "other_local_anaesthetic_within_4h": bool(entered["other_local_anaesthetic_within_4h"]),
    }
    return facts, recorded


def evaluate(facts: dict[str, Any]) -> clinical.EligibilityResult:
    """The engine's recommendation (raises ClinicalInputError naming a bad fact)."""
    return clinical.assess_eligibility(facts)


@dataclass(frozen=True)
class DrugDecision:
    drug: str
    decision: str  # PhysicianDecision value
    final_status: str  # for an override; ignored on accept
    override_reason: str
    seen_engine_status: str  # what the physician was shown


def _check_decision(choice: DrugDecision, engine_status: str) -> str:
    """The final status for ``choice`` or a DecisionError naming the field."""
    prefix = choice.drug
    if choice.seen_engine_status != engine_status:
        raise DecisionError(
            f"{prefix}_decision",
            f"The recommendation changed to '{EngineStatus(engine_status).label}' since you "
            "looked: review it again before deciding.",
        )
    if choice.decision == PhysicianDecision.ACCEPT:
        return engine_status
    if choice.decision != PhysicianDecision.OVERRIDE:
        raise DecisionError(f"{prefix}_decision", "Choose accept or override.")
    if not choice.override_reason.strip():
        raise DecisionError(f"{prefix}_override_reason", "An override needs a reason.")
    if choice.final_status not in EngineStatus.values:
        raise DecisionError(f"{prefix}_final_status", "Choose the status you decide on.")
    if choice.final_status == engine_status:
        raise DecisionError(
            f"{prefix}_final_status",
            "That is the engine's own recommendation: accept it instead of overriding.",
        )
    if engine_status == EngineStatus.NOT_ELIGIBLE and choice.final_status == EngineStatus.ELIGIBLE:
        # An absolute contraindication overridden stays on record as a caution.
        raise DecisionError(
            f"{prefix}_final_status",
            "An absolute contraindication cannot be overridden to plain 'eligible': choose "
            "'eligible with cautions' so the contraindication stays visible as a caution.",
        )
    return choice.final_status


def do_record_eligibility(
    actor: Actor,
    patient: Patient,
    entered: dict[str, Any],
    choices: list[DrugDecision],
) -> list[EligibilityDecision]:
    """Recompute the recommendation from the facts, store one decision per chosen drug, and
    turn each missing-information reason into a checklist item on the patient (one open item
    per rule: an item still open from an earlier decision is not repeated)."""
    _require(actor, PHYSICIANS)
    if not choices:
        raise DecisionError("__all__", "Decide for at least one drug.")
    decided_by = actor.user
    now = timezone.now()
    decisions = []
    with transaction.atomic():
        facts, recorded = build_facts(patient, entered)
        result = evaluate(facts).to_dict()
        finals = {c.drug: _check_decision(c, result[c.drug]["status"]) for c in choices}
        for choice in choices:
            drug_result = result[choice.drug]
            decision = EligibilityDecision.objects.create(
                patient=patient,
                drug=choice.drug,
                condition=result["condition"],
                facts=facts,
                engine_result=drug_result,
                engine_status=drug_result["status"],
                physician_decision=choice.decision,
                final_status=finals[choice.drug],
                override_reason=(
                    choice.override_reason.strip()
                    if choice.decision == PhysicianDecision.OVERRIDE
                    else ""
                ),
                policy_versions=result["policy_versions"],
                criteria_assessment=recorded.criteria_assessment,
                weight=recorded.weight,
                decided_by=decided_by,
                decided_at=now,
            )
            open_rules = set(open_checklist_items(patient).values_list("rule_id", flat=True))
            created = []
            for reason in drug_result["missing_information"]:
                if reason["rule_id"] in open_rules:
                    continue
                text = reason["message"]
                if reason.get("detail"):
                    text = f"{text} ({reason['detail']})"
                item = ChecklistItem.objects.create(
                    patient=patient,
                    text=text,
                    rule_id=reason["rule_id"],
                    drug=choice.drug,
                    source_decision=decision,
                    created_at=now,
                )
                created.append(item.pk)
                open_rules.add(item.rule_id)
            audit(
                actor,
                category=ELIGIBILITY_CATEGORY,
                action=Action.CREATE,
                patient=patient,
                obj=decision,
                detail={
                    "area": "eligibility",
                    "drug": choice.drug,
                    "engine_status": decision.engine_status,
                    "physician_decision": decision.physician_decision,
                    "final_status": decision.final_status,
                    "override_reason": decision.override_reason,
                    "rule_ids": sorted(_rule_ids(drug_result)),
                    "policy_versions": decision.policy_versions,
                    "checklist_items_created": created,
                },
            )
            decisions.append(decision)
    return decisions


def _rule_ids(drug_result: dict[str, Any]) -> set[str]:
    groups = (
        "absolute_contraindications",
        "relative_contraindications",
        "missing_information",
        "stepped_care_gaps",
        "interactions",
    )
    return {r["rule_id"] for g in groups for r in drug_result[g]}


def do_resolve_checklist_item(
    actor: Actor, item: ChecklistItem, note: str, expected_version: int
) -> ChecklistItem:
    """Mark one missing-information item obtained, with a note (never deleted)."""
    _require(actor, CLINICIANS)
    if not note.strip():
        raise DecisionError("note", "Say what was obtained or why the item no longer applies.")
    conflict: ChecklistItem | None = None
    with transaction.atomic():
        locked = ChecklistItem.objects.select_for_update().get(pk=item.pk)
        if locked.version != expected_version or locked.resolved_at is not None:
            conflict = locked
        else:
            ChecklistItem.objects.filter(pk=locked.pk, version=expected_version).update(
                resolved_by=actor.user,
                resolved_at=timezone.now(),
                resolution_note=note.strip(),
                version=F("version") + 1,
            )
            locked.refresh_from_db()
            audit(
                actor,
                category=ELIGIBILITY_CATEGORY,
                action=Action.UPDATE,
                patient=locked.patient,
                obj=locked,
                detail={
                    "area": "checklist",
                    "rule_id": locked.rule_id,
                    "before": {"resolved": False},
                    "after": {"resolved": True, "note": locked.resolution_note},
                },
            )
    if conflict is not None:
        # Audited after the (empty) transaction so that the refusal itself is kept.
        audit(
            actor,
            category=ELIGIBILITY_CATEGORY,
            action=Action.UPDATE,
            patient=conflict.patient,
            obj=conflict,
            outcome=Outcome.CONFLICT,
            detail={
                "area": "checklist",
                "expected_version": expected_version,
                "current_version": conflict.version,
            },
        )
        raise ChecklistConflict(conflict)
    return locked
