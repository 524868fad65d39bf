"""Assessments and eligibility decisions: each write in one transaction with its audit events.

The scoring and the eligibility rules live in :mod:`painclinic.clinical`; this module only
collects the inputs, calls the core, stores what it answered and audits it. Every ``do_*`` is a
service (:func:`painclinic.web.lib.service.service`): it checks the actor's role against
:data:`painclinic.web.assessments.roles.ROLES` itself, and a refusal (:class:`DecisionError`) or a
conflict (:class:`ChecklistConflict`) is audited once, after the rollback, whoever called.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from painclinic import clinical
from painclinic.clinical.eligibility import ECG_FINDINGS
from painclinic.clinical.medications import code_medications
from painclinic.web.assessments.models import (
    Assessment,
    ChecklistItem,
    EligibilityDecision,
    EngineStatus,
    PhysicianDecision,
)
from painclinic.web.assessments.roles import ROLES
from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.lib.clinicdate import age_in_years, clinic_today
from painclinic.web.lib.service import Actor, Refused, StaleVersion, note_subject, service
from painclinic.web.patients.models import Patient, WeightMeasurement
from painclinic.web.patients.services import latest_weight

ASSESSMENT_CATEGORY: str = Category.ASSESSMENT
ELIGIBILITY_CATEGORY: str = Category.ELIGIBILITY

DRUGS = ("ketamine", "lidocaine")


class DecisionError(Refused):
    """A decision or correction the service refuses; ``field`` names the form field to show it
    on (``None``: the whole form)."""


class ChecklistConflict(StaleVersion):
    """Someone resolved (or changed) the checklist item after this page was opened.

    ``current`` is the item as it is now (the conflict page shows who resolved it)."""

    def __init__(self, current: ChecklistItem, expected_version: int) -> None:
        super().__init__(
            "the checklist item changed while you were editing it",
            obj=current,
            patient=current.patient,
            expected_version=expected_version,
            current_version=current.version,
            changes=("resolved_at", "resolution_note") if current.resolved_at else (),
        )
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


@service(ROLES.record_assessment, category=ASSESSMENT_CATEGORY, action=Action.CREATE)
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

    Raises ``clinical.ClinicalInputError`` (naming the item) before anything is written: bad
    answers are input, checked by the form at the boundary, not a refusal. A correction names
    the assessment it ``supersedes`` (same patient and instrument, not already corrected) and a
    reason; the original stays in the history, and a refused correction is audited.
    """
    note_subject(patient=patient)
    result = clinical.score(instrument, answers).to_dict()
    with transaction.atomic():
        if supersedes is not None:
            locked = Assessment.objects.select_for_update().get(pk=supersedes.pk)
            note_subject(obj=locked)
            if locked.patient_id != patient.pk or locked.instrument != instrument:
                raise DecisionError("a correction must be of the same patient and instrument")
            if Assessment.objects.filter(supersedes=locked).exists():
                raise DecisionError(
                    "this assessment has already been corrected; correct the newer one"
                )
            if not correction_reason.strip():
                raise DecisionError("Say why the original is wrong.", "correction_reason")
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


@dataclass(frozen=True, kw_only=True)
class PriorTreatment:
    """One treatment tried before (a row of the eligibility page's prior-treatment table)."""

    treatment: str
    outcome: str
    max_daily_dose_mg: float | None = None
    duration_weeks: float | None = None
    total_dose_mg: float | None = None
    infusion_duration_h: float | None = None

    def as_fact(self) -> dict[str, Any]:
        return {
            "treatment": self.treatment,
            "max_daily_dose_mg": self.max_daily_dose_mg,
            "duration_weeks": self.duration_weeks,
            "outcome": self.outcome,
            "total_dose_mg": self.total_dose_mg,
            "infusion_duration_h": self.infusion_duration_h,
        }


@dataclass(frozen=True, kw_only=True)
class EligibilityInput:
    """What the physician enters for an eligibility decision (the attribute names are the
    facts form's field names); the rest of the facts comes from the record (:func:`build_facts`).

    ``ecg_on_file`` False means no ECG (the engine may name it missing); ``ecg_findings`` are
    the abnormal findings of the ECG on file. A command builds one without any form.
    """

    condition: str
    comorbidities: tuple[str, ...]
    current_medications: tuple[str, ...]
    systolic_bp_mmhg: int | None
    diastolic_bp_mmhg: int | None
    heart_rate_bpm: int | None
    respiratory_rate_per_min: int | None
    spo2_percent: int | None
    pregnancy: str
    active_substance_use_disorder: bool
    history_substance_use_disorder: bool
    poorly_controlled_psychosis: bool
    self_harm_risk: bool
    ecg_on_file: bool
    ecg_findings: tuple[str, ...]
    liver_tests_on_file: bool
    other_local_anaesthetic_within_4h: bool
    prior_treatments: tuple[PriorTreatment, ...]
    history_psychosis_or_mania: bool = False
    clinician_confirmed: bool | None = None
    months_since_rash: float | None = None
    diabetic_neuropathy_confirmed: bool | None = None


def build_facts(patient: Patient, entry: EligibilityInput) -> tuple[dict[str, Any], RecordedFacts]:
    """The facts JSON for ``assess_eligibility``: recorded data plus the physician's entries."""
    recorded = recorded_facts(patient, entry.condition)
    criteria = None
    if recorded.criteria_assessment is not None:
        criteria = {
            "instrument": recorded.criteria_assessment.instrument,
            "met": recorded.criteria_assessment.met,
        }
    psychiatric = {
        "poorly_controlled_psychosis": entry.poorly_controlled_psychosis,
        "self_harm_risk": entry.self_harm_risk,
        "history_psychosis_or_mania": entry.history_psychosis_or_mania,
    }
    condition = clinical.load_conditions().get(entry.condition)
    wanted = {f.id for f in condition.diagnosis_facts}
    findings = {
        key: value
        for key, value in (
            ("months_since_rash", entry.months_since_rash),
            ("diabetic_neuropathy_confirmed", entry.diabetic_neuropathy_confirmed),
        )
        if key in wanted
    }
    # A PHQ-9 item 9 > 0 on file cannot be unticked here: a newer PHQ-9 clears it.
    if recorded.phq9 is not None and recorded.phq9.self_harm_risk:
        psychiatric["self_harm_risk"] = True
    facts = {
        "age_years": recorded.age_years,
        "weight_kg": float(recorded.weight.weight_kg) if recorded.weight else None,
        "diagnosis": {
            "condition": entry.condition,
            "criteria": criteria,
            "clinician_confirmed": entry.clinician_confirmed,
            "findings": findings,
        },
        "prior_treatments": [t.as_fact() for t in entry.prior_treatments],
        "comorbidities": dict.fromkeys(entry.comorbidities, True),
        # Each line as written with the ingredients it was recognised as (both kept).
        "current_medications": [
            {"text": m.text, "ingredients": list(m.ingredients)}
            for m in code_medications(entry.current_medications)
        ],
        "vitals": {
            "systolic_bp_mmhg": entry.systolic_bp_mmhg,
            "diastolic_bp_mmhg": entry.diastolic_bp_mmhg,
            "heart_rate_bpm": entry.heart_rate_bpm,
            "respiratory_rate_per_min": entry.respiratory_rate_per_min,
            "spo2_percent": entry.spo2_percent,
        },
        "pregnancy": entry.pregnancy,
        "substance_use": {
            "active_substance_use_disorder": entry.active_substance_use_disorder,
            "history_substance_use_disorder": entry.history_substance_use_disorder,
        },
        "psychiatric": psychiatric,
        "ecg": ({f: f in entry.ecg_findings for f in ECG_FINDINGS} if entry.ecg_on_file else None),
        "labs": {"liver_tests_on_file": entry.liver_tests_on_file},
        "other_local_anaesthetic_within_4h": entry.other_local_anaesthetic_within_4h,
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
            f"The recommendation changed to '{EngineStatus(engine_status).label}' since you "
            "looked: review it again before deciding.",
            f"{prefix}_decision",
            detail={"drug": choice.drug, "engine_status": engine_status},
        )
    if choice.decision == PhysicianDecision.ACCEPT:
        return engine_status
    if choice.decision != PhysicianDecision.OVERRIDE:
        raise DecisionError("Choose accept or override.", f"{prefix}_decision")
    if not choice.override_reason.strip():
        raise DecisionError("An override needs a reason.", f"{prefix}_override_reason")
    if choice.final_status not in EngineStatus.values:
        raise DecisionError("Choose the status you decide on.", f"{prefix}_final_status")
    if choice.final_status == engine_status:
        raise DecisionError(
            "That is the engine's own recommendation: accept it instead of overriding.",
            f"{prefix}_final_status",
        )
    if engine_status == EngineStatus.NOT_ELIGIBLE and choice.final_status == EngineStatus.ELIGIBLE:
        # An absolute contraindication overridden stays on record as a caution.
        raise DecisionError(
            "An absolute contraindication cannot be overridden to plain 'eligible': choose "
            "'eligible with cautions' so the contraindication stays visible as a caution.",
            f"{prefix}_final_status",
            detail={"drug": choice.drug, "engine_status": engine_status},
        )
    return choice.final_status


@service(ROLES.record_eligibility, category=ELIGIBILITY_CATEGORY, action=Action.CREATE)
def do_record_eligibility(
    actor: Actor,
    patient: Patient,
    entry: EligibilityInput,
    choices: list[DrugDecision],
) -> list[EligibilityDecision]:
    """Recompute the recommendation from the facts, store one decision per chosen drug, and
    turn each missing-information reason into a checklist item on the patient (one open item
    per rule: an item still open from an earlier decision is not repeated)."""
    note_subject(patient=patient)
    if not choices:
        raise DecisionError("Decide for at least one drug.")
    unknown = sorted({c.drug for c in choices} - set(DRUGS))
    if unknown:
        raise DecisionError(f"Unknown drug {', '.join(unknown)}: decide for ketamine or lidocaine.")
    decided_by = actor.user
    now = timezone.now()
    decisions = []
    with transaction.atomic():
        facts, recorded = build_facts(patient, entry)
        result = evaluate(facts).to_dict()
        finals = {c.drug: _check_decision(c, result[c.drug]["status"]) for c in choices}
        for choice in choices:
            drug_result = result[choice.drug]
            # Overriding an absolute contraindication holds only once a second physician
            # co-signs it (like a soft dose limit): see do_cosign_eligibility.
            cosign = (
                choice.decision == PhysicianDecision.OVERRIDE
                and drug_result["status"] == EngineStatus.NOT_ELIGIBLE
            )
            decision = EligibilityDecision.objects.create(
                cosign_required=cosign,
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
                    "awaiting_cosign": decision.cosign_required,
                    "absolute_overridden": (
                        sorted(
                            r["rule_id"]
                            for g in ("absolute_contraindications", "interactions")
                            for r in drug_result[g]
                            if r["category"] == "absolute"
                        )
                        if decision.cosign_required
                        else []
                    ),
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


@service(ROLES.resolve_checklist_item, category=ELIGIBILITY_CATEGORY, action=Action.UPDATE)
def do_resolve_checklist_item(
    actor: Actor, item: ChecklistItem, note: str, expected_version: int
) -> ChecklistItem:
    """Mark one missing-information item obtained, with a note (never deleted).

    Raises :class:`ChecklistConflict` when the item changed (or was resolved) after
    ``expected_version`` was read: nothing is saved, and the conflict is audited."""
    note_subject(patient=item.patient, obj=item)
    if not note.strip():
        raise DecisionError("Say what was obtained or why the item no longer applies.", "note")
    with transaction.atomic():
        locked = ChecklistItem.objects.select_for_update().get(pk=item.pk)
        if locked.version != expected_version or locked.resolved_at is not None:
            raise ChecklistConflict(locked, expected_version)
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
    return locked


@service(ROLES.cosign_eligibility, category=ELIGIBILITY_CATEGORY, action=Action.UPDATE)
def do_cosign_eligibility(
    actor: Actor, decision_id: int, expected_version: int, note: str
) -> EligibilityDecision:
    """A second physician (not the one who decided) co-signs the override of an absolute
    contraindication; until then the decision does not allow a plan. The note is required:
    it says why the second physician agrees. A refusal is audited after the rollback."""
    user = actor.user
    with transaction.atomic():
        decision = EligibilityDecision.objects.select_for_update().get(pk=decision_id)
        note_subject(patient=decision.patient, obj=decision)
        if decision.version != expected_version:
            raise DecisionError(
                "This decision changed while you were reading it: open it again.",
                detail={"expected_version": expected_version, "version": decision.version},
            )
        if not decision.awaiting_cosign:
            raise DecisionError("This decision does not need a co-signature.")
        if decision.decided_by_id == user.pk:
            raise DecisionError(
                "You made this decision: a second physician must co-sign the override of an "
                "absolute contraindication."
            )
        if not note.strip():
            raise DecisionError("Say why you agree with the override.", "note")
        now = timezone.now()
        EligibilityDecision.objects.filter(pk=decision.pk, version=expected_version).update(
            cosigned_by=user, cosigned_at=now, cosign_note=note.strip(), version=F("version") + 1
        )
        decision.refresh_from_db()
        audit(
            actor,
            category=ELIGIBILITY_CATEGORY,
            action=Action.UPDATE,
            patient=decision.patient,
            obj=decision,
            detail={
                "area": "eligibility",
                "event": "cosign",
                "drug": decision.drug,
                "decided_by": decision.decided_by_id,
                "cosigned_by": user.username,
                "override_reason": decision.override_reason,
                "note": decision.cosign_note,
                "before": {"awaiting_cosign": True},
                "after": {"awaiting_cosign": False},
            },
        )
    return decision
