"""Fee schedule, treatment consent with estimate, and checked plans: each change in one
transaction with its audit events.

The doses come from ``painclinic.clinical.plan`` (which calls
``painclinic.pharmacology.calculate_infusion``); nothing here computes a dose. Every ``do_*`` is a
service (:func:`painclinic.web.lib.service.service`): it checks the actor's role against
:data:`painclinic.web.treatments.roles.ROLES` itself, and a refusal (:class:`ServiceError`, a
refused hard limit :class:`~painclinic.web.lib.service.HardLimitRefused`) or a conflict
(:class:`PlanConflict`) is audited once, after the rollback, whoever called.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from painclinic import clinical
from painclinic.clinical.protocols import offered_protocols as offered_protocols_in
from painclinic.web.accounts.models import STAFF_ROLES, User
from painclinic.web.assessments.services import latest_eligibility_decision
from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.lib.clinicdate import age_in_years, clinic_today
from painclinic.web.lib.service import (
    Actor,
    HardLimitRefused,
    Refused,
    StaleVersion,
    note_subject,
    service,
)
from painclinic.web.lib.tax import tax_rules
from painclinic.web.patients.access import read_for
from painclinic.web.patients.models import Patient, WeightMeasurement
from painclinic.web.patients.services import latest_weight
from painclinic.web.treatments.models import (
    FeeBasis,
    FeeItem,
    PlannedSession,
    PlanStatus,
    TaxCategory,
    TreatmentConsent,
    TreatmentConsentDecision,
    TreatmentPlan,
)
from painclinic.web.treatments.roles import ROLES

# Treatment consents and plans; the fee schedule.
TREATMENT_CATEGORY = Category.TREATMENT
FEES_CATEGORY = Category.BILLING

CONSENT_TEXT_PATH = Path(__file__).with_name("consent_text.json")


def weight_max_age_days() -> int:
    return int(getattr(settings, "PLAN_WEIGHT_MAX_AGE_DAYS", 30))


class ServiceError(Refused):
    """A rule refused the request; ``field`` names the form field to put the message on."""


class PlanConflict(StaleVersion):
    """The plan changed (co-signed, cancelled) since the user opened it; ``plan`` is the plan
    as it is now."""

    def __init__(self, plan: TreatmentPlan, expected_version: int) -> None:
        super().__init__(
            "the plan changed while you were looking at it",
            obj=plan,
            patient=plan.patient,
            expected_version=expected_version,
            current_version=plan.version,
            changes=("status",),
        )
        self.plan = plan


# --- access -------------------------------------------------------------------------------------


def get_plan_for(actor: Actor, plan_id: int, *, purpose: str = "view") -> TreatmentPlan:
    return read_for(
        actor,
        TreatmentPlan.objects.select_related(
            "patient", "prescribed_by", "cosigned_by", "cancelled_by", "weight", "consent"
        ),
        plan_id,
        category=TREATMENT_CATEGORY,
        detail={"purpose": purpose},
    )


def get_consent_for(actor: Actor, consent_id: int) -> TreatmentConsent:
    return read_for(
        actor,
        TreatmentConsent.objects.select_related("patient", "obtained_by", "witness", "withdraws"),
        consent_id,
        category=TREATMENT_CATEGORY,
    )


# --- fee schedule -------------------------------------------------------------------------------


def fees_in_effect(on: dt.date | None = None) -> list[FeeItem]:
    """The latest active row of each code that is in effect on ``on`` (default today)."""
    on = on or clinic_today()
    chosen: dict[str, FeeItem] = {}
    rows = FeeItem.objects.filter(active=True, effective_from__lte=on).order_by(
        "code", "-effective_from", "-id"
    )
    for item in rows:
        chosen.setdefault(item.code, item)
    return list(chosen.values())


def _fee_snapshot(item: FeeItem) -> dict[str, Any]:
    return {
        "code": item.code,
        "description": item.description,
        "amount_cents": item.amount_cents,
        "basis": item.basis,
        "drug": item.drug,
        "protocol_id": item.protocol_id,
        "tax_category": item.tax_category,
        "min_minutes": item.min_minutes,
        "max_minutes": item.max_minutes,
        "package_sessions": item.package_sessions,
        "effective_from": item.effective_from.isoformat(),
        "active": item.active,
    }


@dataclass(frozen=True, kw_only=True)
class FeeItemInput:
    """A new row of the fee schedule (the fee form's fields; the amount in integer cents)."""

    code: str
    description: str
    amount_cents: int
    basis: str
    effective_from: dt.date
    tax_category: str = TaxCategory.EXEMPT_HEALTH
    drug: str = ""
    protocol_id: str = ""
    min_minutes: int | None = None
    max_minutes: int | None = None
    package_sessions: int | None = None


@service(ROLES.add_fee_item, category=FEES_CATEGORY, action=Action.CREATE)
def do_add_fee_item(actor: Actor, data: FeeItemInput) -> FeeItem:
    """Add a price (a price change is a new row from a later date; rows are never edited)."""
    if data.amount_cents <= 0:
        raise ServiceError("A fee must be a positive amount of cents.", "amount")
    if data.tax_category not in TaxCategory.values:
        raise ServiceError("Choose how HST applies to this service.", "tax_category")
    if data.basis == FeeBasis.PACKAGE and not data.package_sessions:
        raise ServiceError("Say how many sessions the package covers.", "package_sessions")
    if data.basis != FeeBasis.PACKAGE and data.package_sessions:
        raise ServiceError("Only a series package covers a number of sessions.", "package_sessions")
    if (data.min_minutes is not None or data.max_minutes is not None) and (
        data.basis != FeeBasis.PER_SESSION
    ):
        raise ServiceError("Only a per-session price depends on the session length.", "min_minutes")
    if (
        data.min_minutes is not None
        and data.max_minutes is not None
        and data.min_minutes > data.max_minutes
    ):
        raise ServiceError("The shortest length is longer than the longest.", "max_minutes")
    with transaction.atomic():
        if FeeItem.objects.filter(code=data.code, effective_from=data.effective_from).exists():
            raise ServiceError(
                f"{data.code} already has a price from {data.effective_from:%Y-%m-%d}; "
                "choose another date (a price change is a new row from a later date).",
                "effective_from",
            )
        item = FeeItem.objects.create(
            code=data.code,
            description=data.description,
            amount_cents=data.amount_cents,
            basis=data.basis,
            drug=data.drug,
            protocol_id=data.protocol_id,
            tax_category=data.tax_category,
            min_minutes=data.min_minutes,
            max_minutes=data.max_minutes,
            package_sessions=data.package_sessions,
            effective_from=data.effective_from,
            created_by=actor.user,
            created_at=timezone.now(),
        )
        audit(
            actor,
            category=FEES_CATEGORY,
            action=Action.CREATE,
            obj=item,
            detail={"after": _fee_snapshot(item)},
        )
    return item


@service(ROLES.deactivate_fee_item, category=FEES_CATEGORY, action=Action.UPDATE)
def do_deactivate_fee_item(actor: Actor, item_id: int) -> FeeItem:
    """Take a price out of use (kept in the history). ``FeeItem.DoesNotExist`` for an unknown
    id: the page checks it first (fee items are never deleted)."""
    with transaction.atomic():
        item = FeeItem.objects.select_for_update().get(pk=item_id)
        note_subject(obj=item)
        if not item.active:
            raise ServiceError(f"{item.code} is already inactive.")
        item.active = False
        item.deactivated_by = actor.user
        item.deactivated_at = timezone.now()
        item.save(update_fields=["active", "deactivated_by", "deactivated_at"])
        audit(
            actor,
            category=FEES_CATEGORY,
            action=Action.UPDATE,
            obj=item,
            detail={"code": item.code, "before": {"active": True}, "after": {"active": False}},
        )
    return item


@dataclass(frozen=True)
class EstimateLine:
    code: str
    description: str
    basis: str
    quantity: int
    unit_cents: int
    amount_cents: int
    tax_category: str = TaxCategory.EXEMPT_HEALTH
    tax_cents: int = 0


@dataclass(frozen=True)
class Estimate:
    lines: tuple[EstimateLine, ...]
    subtotal_cents: int
    hst_percent_text: str
    hst_cents: int
    total_cents: int
    as_of: dt.date
    sessions: int
    session_minutes: int | None = None
    # Lines for insured services are listed but billed to OHIP, never to the patient.
    insured_lines: tuple[EstimateLine, ...] = ()

    @property
    def hst_exempt(self) -> bool:
        return self.hst_cents == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": [line.__dict__ for line in self.lines],
            "insured_lines": [line.__dict__ for line in self.insured_lines],
            "subtotal_cents": self.subtotal_cents,
            "hst_percent_text": self.hst_percent_text,
            "hst_cents": self.hst_cents,
            "total_cents": self.total_cents,
            "as_of": self.as_of.isoformat(),
            "sessions": self.sessions,
            "session_minutes": self.session_minutes,
        }


def protocol_session_minutes(protocol_id: str) -> int | None:
    """The planned infusion length of one session of a protocol, in minutes (None if unknown)."""
    try:
        protocol = protocol_library().get(protocol_id)
    except (KeyError, ValueError):
        return None
    total = protocol.session_duration_min
    return round(total) if total else None


def estimate_cost(
    drug: str,
    protocol_id: str,
    sessions: int,
    on: dt.date | None = None,
    *,
    session_minutes: int | None = None,
) -> Estimate:
    """Itemised estimate in integer cents: per-session items (of the session's length, when the
    price depends on it) x sessions, once-per-plan items x 1, for the items of this drug and
    protocol (or of any). HST per line from the item's tax category (``web/lib/tax.py``)."""
    on = on or clinic_today()
    if session_minutes is None:
        session_minutes = protocol_session_minutes(protocol_id)
    rules = tax_rules()
    lines: list[EstimateLine] = []
    insured: list[EstimateLine] = []
    for item in fees_in_effect(on):
        if item.basis not in (FeeBasis.PER_SESSION, FeeBasis.PER_CONSULT):
            continue
        if item.drug and item.drug != drug:
            continue
        if item.protocol_id and item.protocol_id != protocol_id:
            continue
        if item.basis == FeeBasis.PER_SESSION and not item.fits_length(session_minutes):
            continue
        quantity = sessions if item.basis == FeeBasis.PER_SESSION else 1
        amount = item.amount_cents * quantity
        line = EstimateLine(
            code=item.code,
            description=item.description,
            basis=item.basis,
            quantity=quantity,
            unit_cents=item.amount_cents,
            amount_cents=amount,
            tax_category=item.tax_category,
            tax_cents=rules.line_tax_cents(amount, item.tax_category, on),
        )
        (insured if item.tax_category == TaxCategory.INSURED else lines).append(line)
    lines.sort(key=lambda line: (line.basis != FeeBasis.PER_CONSULT, line.code))
    subtotal = sum(line.amount_cents for line in lines)
    tax = sum(line.tax_cents for line in lines)
    return Estimate(
        lines=tuple(lines),
        subtotal_cents=subtotal,
        hst_percent_text=rules.rate_on(on).percent_text,
        hst_cents=tax,
        total_cents=subtotal + tax,
        as_of=on,
        sessions=sessions,
        session_minutes=session_minutes,
        insured_lines=tuple(insured),
    )


def dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


# --- consent text -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def consent_text() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(CONSENT_TEXT_PATH.read_text(encoding="utf-8"))
    return data


@lru_cache(maxsize=1)
def protocol_library() -> clinical.ProtocolLibrary:
    return clinical.load_protocols()


def inpatient_service() -> bool:
    """Clinic setting: does the clinic admit patients (inpatient-only protocols offered)?"""
    return bool(getattr(settings, "INPATIENT_SERVICE", False))


def offered_protocols() -> tuple[clinical.Protocol, ...]:
    """The protocols this clinic may plan: inpatient-only ones only with an inpatient service."""
    return offered_protocols_in(protocol_library(), inpatient_service=inpatient_service())


def protocol_choices() -> list[tuple[str, str]]:
    return [(p.id, p.title) for p in offered_protocols()]


@dataclass(frozen=True)
class ConsentContent:
    """What is shown to the patient for a drug and protocol."""

    version: str
    risks: list[dict[str, str]]
    off_label_statement: str
    off_label_sources: str
    coverage_statement: str
    estimate_note: str
    clinic_editable: str


def consent_content(drug: str) -> ConsentContent:
    text = consent_text()
    entry = text["drugs"][drug]
    return ConsentContent(
        version=text["version"],
        risks=list(entry["risks"]),
        off_label_statement=entry["off_label_statement"],
        off_label_sources=entry["off_label_sources"],
        coverage_statement=text["coverage_statement"],
        estimate_note=text["estimate_note"],
        clinic_editable=text["clinic_editable"],
    )


# --- treatment consent --------------------------------------------------------------------------


def current_treatment_consent(
    patient: Patient, drug: str, protocol_id: str
) -> TreatmentConsent | None:
    """The latest granted consent for the drug and protocol that has not been withdrawn."""
    return (
        TreatmentConsent.objects.filter(
            patient=patient,
            drug=drug,
            protocol_id=protocol_id,
            decision=TreatmentConsentDecision.GRANTED,
            withdrawal__isnull=True,
        )
        .order_by("-signed_at", "-id")
        .first()
    )


@dataclass(frozen=True, kw_only=True)
class TreatmentConsentInput:
    """A signed treatment consent (the consent form's fields).

    ``signed_at`` is an aware datetime; ``witness`` another active staff member;
    ``shown_total_cents`` the estimate total the patient was shown before signing (refused if
    the fee schedule has changed since)."""

    protocol_id: str
    sessions: int
    patient_signed_name: str
    signature_method: str
    signature_confirmed: bool
    witness: User
    signed_at: dt.datetime
    shown_total_cents: int


@service(ROLES.record_treatment_consent, category=TREATMENT_CATEGORY, action=Action.CREATE)
def do_record_treatment_consent(
    actor: Actor, patient: Patient, data: TreatmentConsentInput
) -> TreatmentConsent:
    """Store the consent with the text shown and the estimate, witnessed by another staff
    member."""
    note_subject(patient=patient)
    obtained_by = actor.user
    witness = data.witness
    if witness.pk == obtained_by.pk:
        raise ServiceError(
            "The witness must be someone other than the person obtaining consent.", "witness"
        )
    if witness.role not in STAFF_ROLES or not witness.is_active:
        raise ServiceError("The witness must be an active staff member.", "witness")
    if not data.signature_confirmed:
        raise ServiceError("Confirm that the patient signed.", "signature_confirmed")
    if timezone.is_naive(data.signed_at):
        raise ServiceError("The signing time needs its time zone.", "signed_at")
    if data.protocol_id not in protocol_library().protocols:
        raise ServiceError(f"No protocol {data.protocol_id!r} in the library.", "protocol_id")
    protocol = protocol_library().get(data.protocol_id)
    sessions = int(data.sessions)
    if sessions not in protocol.allowed_sessions:
        raise ServiceError(
            f"{protocol.title} allows {list(protocol.allowed_sessions)} sessions.", "sessions"
        )
    content = consent_content(protocol.drug)
    with transaction.atomic():
        estimate = estimate_cost(protocol.drug, protocol.id, sessions)
        if data.shown_total_cents != estimate.total_cents:
            raise ServiceError(
                "The fee schedule changed since the estimate was shown: show the new "
                "estimate to the patient before they sign.",
                detail={
                    "shown_total_cents": data.shown_total_cents,
                    "estimate_total_cents": estimate.total_cents,
                },
            )
        consent = TreatmentConsent.objects.create(
            patient=patient,
            decision=TreatmentConsentDecision.GRANTED,
            drug=protocol.drug,
            protocol_id=protocol.id,
            protocol_title=protocol.title,
            protocol_library_version=protocol_library().version,
            sessions=sessions,
            consent_text_version=content.version,
            risks=content.risks,
            off_label_statement=content.off_label_statement,
            coverage_statement=content.coverage_statement,
            estimate=estimate.to_dict(),
            estimate_total_cents=estimate.total_cents,
            patient_signed_name=data.patient_signed_name,
            signature_method=data.signature_method,
            signed_at=data.signed_at,
            obtained_by=obtained_by,
            witness=witness,
            witness_name=witness.display_name,
            recorded_at=timezone.now(),
        )
        audit(
            actor,
            category=TREATMENT_CATEGORY,
            action=Action.CREATE,
            patient=patient,
            obj=consent,
            detail={
                "kind": "treatment",
                "decision": consent.decision,
                "drug": consent.drug,
                "protocol_id": consent.protocol_id,
                "sessions": sessions,
                "consent_text_version": content.version,
                "estimate_total_cents": estimate.total_cents,
                "witness": witness.username,
                "signature_method": consent.signature_method,
                "signed_at": consent.signed_at.isoformat(),
            },
        )
    return consent


@service(ROLES.withdraw_treatment_consent, category=TREATMENT_CATEGORY, action=Action.CREATE)
def do_withdraw_treatment_consent(
    actor: Actor, consent: TreatmentConsent, reason: str
) -> TreatmentConsent:
    """A withdrawal is a new row pointing at the consent; active or awaiting plans for the same
    drug and protocol stop being usable (they are cancelled with the reason)."""
    reason = reason.strip()
    with transaction.atomic():
        locked = TreatmentConsent.objects.select_for_update().get(pk=consent.pk)
        note_subject(patient=locked.patient, obj=locked)
        if not reason:
            raise ServiceError("Give the reason.", "reason")
        if locked.decision != TreatmentConsentDecision.GRANTED:
            raise ServiceError("Only a consent that was given can be withdrawn.")
        if TreatmentConsent.objects.filter(withdraws=locked).exists():
            raise ServiceError("This consent has already been withdrawn.")
        user = actor.user
        now = timezone.now()
        withdrawal = TreatmentConsent.objects.create(
            patient=locked.patient,
            decision=TreatmentConsentDecision.WITHDRAWN,
            withdraws=locked,
            drug=locked.drug,
            protocol_id=locked.protocol_id,
            protocol_title=locked.protocol_title,
            protocol_library_version=locked.protocol_library_version,
            sessions=locked.sessions,
            consent_text_version=locked.consent_text_version,
            off_label_statement=locked.off_label_statement,
            coverage_statement=locked.coverage_statement,
            patient_signed_name=locked.patient_signed_name,
            signature_method=locked.signature_method,
            signed_at=now,
            obtained_by=user,
            reason=reason,
            recorded_at=now,
        )
        audit(
            actor,
            category=TREATMENT_CATEGORY,
            action=Action.CREATE,
            patient=locked.patient,
            obj=withdrawal,
            detail={"kind": "treatment", "decision": "withdrawn", "withdraws": locked.pk},
        )
        usable = TreatmentPlan.objects.select_for_update().filter(
            patient=locked.patient,
            drug=locked.drug,
            protocol_id=locked.protocol_id,
            status__in=[PlanStatus.ACTIVE, PlanStatus.AWAITING_COSIGN],
        )
        for plan in usable:
            _cancel(actor, plan, f"consent withdrawn: {reason}", user, now)
    return withdrawal


# --- eligibility --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EligibilityCheck:
    ok: bool
    message: str
    snapshot: dict[str, Any] = field(default_factory=dict)


def eligibility_check(patient: Patient, drug: str) -> EligibilityCheck:
    """A physician's accepted or overridden eligibility decision that is not ``not_eligible``."""
    decision = latest_eligibility_decision(patient, drug)
    if decision is None:
        return EligibilityCheck(
            False, f"No physician has decided the patient's eligibility for {drug} yet."
        )
    snapshot = {
        "decision_id": decision.pk,
        "final_status": decision.final_status,
        "physician_decision": decision.physician_decision,
        "decided_at": decision.decided_at.isoformat(),
    }
    if decision.physician_decision not in ("accept", "override"):
        return EligibilityCheck(False, "The eligibility decision was not accepted.", snapshot)
    if decision.cosign_required:
        snapshot["cosigned_by"] = decision.cosigned_by_id
        snapshot["cosigned_at"] = decision.cosigned_at.isoformat() if decision.cosigned_at else None
    if decision.awaiting_cosign:
        return EligibilityCheck(
            False,
            f"The eligibility decision for {drug} overrides an absolute contraindication and "
            "awaits a second physician's co-signature.",
            snapshot,
        )
    if decision.final_status == "not_eligible":
        return EligibilityCheck(
            False,
            f"The latest eligibility decision for {drug} is: not eligible "
            f"({decision.decided_at:%Y-%m-%d}).",
            snapshot,
        )
    how = "recommendation accepted" if decision.physician_decision == "accept" else "overridden"
    return EligibilityCheck(
        True,
        f"{decision.get_final_status_display()} ({how} on {decision.decided_at:%Y-%m-%d})",
        snapshot,
    )


# --- plans --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightCheck:
    weight: WeightMeasurement | None
    age_days: int | None
    max_age_days: int
    problem: str | None


def weight_check(patient: Patient) -> WeightCheck:
    """The latest weight, and why it cannot be used (none, or older than the clinic policy,
    counted in clinic-local calendar days)."""
    limit = weight_max_age_days()
    weight = latest_weight(patient)
    if weight is None:
        return WeightCheck(None, None, limit, "No weight recorded: weigh the patient first.")
    age = (clinic_today() - weight.measured_on).days
    if age > limit:
        return WeightCheck(
            weight,
            age,
            limit,
            f"The latest weight ({weight.weight_kg.normalize()} kg on "
            f"{weight.measured_on:%Y-%m-%d}) is {age} days old; the clinic's limit is {limit} "
            "days. Re-weigh the patient before planning.",
        )
    return WeightCheck(weight, age, limit, None)


def plan_patient_covariates(patient: Patient, weight: WeightMeasurement) -> dict[str, Any]:
    covariates: dict[str, Any] = {"weight_kg": float(weight.weight_kg)}
    height = weight.height_cm
    if height is None:
        earlier = (
            WeightMeasurement.objects.filter(
                patient=patient, corrected_by__isnull=True, height_cm__isnull=False
            )
            .order_by("-measured_on", "-recorded_at", "-id")
            .first()
        )
        height = earlier.height_cm if earlier else None
    if height is not None:
        covariates["height_cm"] = float(height)
    if patient.sex_at_birth in ("female", "male"):
        covariates["sex"] = patient.sex_at_birth
    return covariates


def pk_covariates(plan: TreatmentPlan) -> dict[str, Any]:
    """Covariates for the concentration simulation (weight, height, age, sex)."""
    stored = dict(plan.plan_data.get("patient", {}))
    out: dict[str, Any] = {"weight_kg": stored.get("weight_kg", float(plan.dosing_weight_kg))}
    if stored.get("height_cm"):
        out["height_cm"] = stored["height_cm"]
    if stored.get("sex"):
        out["sex"] = stored["sex"]
    out["age_years"] = age_in_years(plan.patient.date_of_birth, clinic_today())
    return out


QUANTITY_LABELS = {
    "rate_mg_per_h": "rate (mg/h)",
    "rate_mg_per_kg_per_h": "rate per kg (mg/kg/h)",
    "session_total_mg": "session total (mg)",
    "session_total_mg_per_kg": "session total per kg (mg/kg)",
    "total_24h_mg": "total in 24 h (mg)",
    "bolus_mg": "bolus (mg)",
    "bolus_mg_per_kg": "bolus per kg (mg/kg)",
    "weight_kg": "weight (kg)",
    "concentration_mg_per_ml": "bag concentration (mg/mL)",
    "session_duration_min": "session length (min)",
}
WHOLE_SESSION = "whole session"


def _plan_checks(plan_dict: dict[str, Any]) -> Any:
    """(session number, where, check) of every limit check of a plan: each step's own, then
    the whole session's (its total, length and 24 hours, on all its steps together)."""
    for session in plan_dict["sessions"]:
        for step in session["steps"]:
            for check in step["calculation"].get("limit_checks", []):
                yield session["number"], step["label"], check
        for check in (session.get("session_limits") or {}).get("checks", []):
            yield session["number"], WHOLE_SESSION, check


@dataclass(frozen=True)
class LimitBreach:
    session: int
    step: str
    quantity: str
    value: str
    limit: str
    level: str
    source: str


@dataclass(frozen=True)
class _WorstCheck:
    check: dict[str, Any]
    session: int
    step_label: str
    count: int


def _worst_checks(plan_dict: dict[str, Any], status: str) -> list[_WorstCheck]:
    """The limit checks at ``status`` level, once per (quantity, limit): the worst one (highest
    above an upper bound, lowest below a lower one), where the first one is, and how many."""
    worst: dict[tuple[str, Any], tuple[float, dict[str, Any], int, str, int]] = {}
    for number, label, check in _plan_checks(plan_dict):
        if check["status"] != status:
            continue
        key = (check["name"], check["limit_value"])
        value = float(check["value"]) if check["value"] is not None else 0.0
        upper = check["bound"] != "lower"
        if key not in worst:
            worst[key] = (value, check, number, label, 1)
            continue
        best, best_check, first_session, first_step, count = worst[key]
        if (value > best) if upper else (value < best):
            best, best_check = value, check
        worst[key] = (best, best_check, first_session, first_step, count + 1)
    return [
        _WorstCheck(check, session, step_label, count)
        for (_, check, session, step_label, count) in worst.values()
    ]


def _per_kg_weight(check: dict[str, Any]) -> str:
    """ " of 55 kg (lower of actual and ideal body weight)" for a per-kg value, else ""."""
    from painclinic.pharmacology import format_dose
    from painclinic.pharmacology.sessionlimits import WEIGHT_LABELS

    basis, weight = check.get("weight_basis"), check.get("weight_kg")
    if not basis or not weight:
        return ""
    return f" of {format_dose(float(weight), 'kg')} ({WEIGHT_LABELS.get(basis, basis)})"


def limit_breaches(plan_dict: dict[str, Any], status: str) -> list[LimitBreach]:
    """The drug-library limits crossed at ``status`` level, once per (quantity, limit): the
    worst value, where it first happens, how many steps cross it, and the limit's source.

    A long continuous plan is cut into many 4-hour orders; listing every order separately
    buries the few limits that matter under near-identical rows."""
    from painclinic.pharmacology import format_dose

    out = []
    for found in _worst_checks(plan_dict, status):
        check = found.check
        limit = (
            format_dose(check["limit_value"], check["unit"])
            if check["limit_value"] is not None
            else "standard concentrations only"
        )
        where = f"session {found.session} {found.step_label}"
        out.append(
            LimitBreach(
                session=found.session,
                step=where if found.count == 1 else f"{where} and {found.count - 1} more",
                quantity=QUANTITY_LABELS.get(check["name"], check["name"]),
                value=format_dose(round(float(check["value"]), 4), check["unit"])
                + _per_kg_weight(check),
                limit=f"{check['bound']} {check['level']} limit {limit}",
                level=check["level"],
                source=check["source"],
            )
        )
    return out


def hard_limit_detail(plan_dict: dict[str, Any]) -> dict[str, Any]:
    """The values of the first hard limit a plan crosses, for the refusal's audit event: the
    drug, the refused value under its own name (``bolus_mg_per_kg``, ``rate_mg_per_h``...), the
    limit with its unit, and where in the plan it happens."""
    found = _worst_checks(plan_dict, "hard_limit")[0]
    check = found.check
    return {
        "drug": plan_dict.get("drug"),
        "protocol_id": plan_dict.get("protocol_id"),
        check["name"]: check["value"],
        "limit": check["limit_value"],
        "limit_unit": check["unit"],
        "bound": check["bound"],
        "limit_source": check["source"],
        "session": found.session,
        "step": found.step_label,
        "hard_limits_crossed": len(_worst_checks(plan_dict, "hard_limit")),
    }


@dataclass
class PlanPreview:
    """A computed plan before saving, with everything that blocks it."""

    protocol: clinical.Protocol
    sessions: int
    weight: WeightCheck
    plan: clinical.ProtocolPlan | None = None
    input_error: str | None = None
    eligibility: EligibilityCheck | None = None
    consent: TreatmentConsent | None = None
    blockers: list[str] = field(default_factory=list)
    # What the eligibility decision says the protocol cannot be used for: (field, message).
    indication_problems: list[tuple[str, str]] = field(default_factory=list)
    premedication_notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str | None:
        return self.plan.status if self.plan else None

    @property
    def hard_limits(self) -> list[LimitBreach]:
        if self.plan is None or self.plan.status != "hard_limit":
            return []
        return limit_breaches(self.plan.to_dict(), "hard_limit")

    @property
    def soft_limits(self) -> list[LimitBreach]:
        if self.plan is None:
            return []
        return limit_breaches(self.plan.to_dict(), "soft_limit")

    @property
    def refused(self) -> bool:
        return self.plan is None or self.plan.blocked or self.plan.status == "hard_limit"


SERIES_BLOCKING_RULES = ("KET-REL-002",)  # active substance use disorder: no serial infusions


def indication_problems(
    patient: Patient, protocol: clinical.Protocol, sessions: int
) -> list[tuple[str, str]]:
    """Why the patient's eligibility decision does not allow this protocol: the condition
    decided on is not among the protocol's indications, or a rule of that decision forbids a
    series (more than one infusion). Each problem names the form field it belongs to."""
    decision = latest_eligibility_decision(patient, protocol.drug)
    if decision is None:
        return []
    problems = []
    if decision.condition not in protocol.indications:
        names = clinical.load_conditions().conditions
        wanted = ", ".join(names[c].name if c in names else c for c in protocol.indications)
        condition = names[decision.condition].name if decision.condition in names else ""
        problems.append(
            (
                "protocol_id",
                f"{protocol.title} is not indicated for {condition or 'the decided condition'} "
                f"(its indications: {wanted}). Choose a protocol for the patient's condition.",
            )
        )
    result = decision.engine_result or {}
    fired = {r["rule_id"] for g in ("relative_contraindications", "absolute_contraindications")
             for r in result.get(g, [])}  # fmt: skip
    series_rules = fired & set(SERIES_BLOCKING_RULES)
    if sessions > 1 and series_rules:
        reason = next(
            r["message"]
            for g in ("relative_contraindications", "absolute_contraindications")
            for r in result.get(g, [])
            if r["rule_id"] in series_rules
        )
        problems.append(
            (
                "sessions",
                f"No series: {reason}. Plan a single session, or record a new eligibility "
                "decision if this no longer applies.",
            )
        )
    return problems


def premedication_notes(protocol: clinical.Protocol) -> list[str]:
    """Interactions of the drug with the protocol's own premedication (e.g. midazolam with
    ketamine): shown with the plan so the monitoring allows for them."""
    from painclinic.clinical.eligibility import premedication_interactions

    drugs = [str(p.get("drug", "")) for p in protocol.raw.get("premedication", [])]
    return [
        f"{r.message} — the protocol's premedication: {r.detail}"
        for r in premedication_interactions(protocol.drug, [d for d in drugs if d])
    ]


def preview_plan(patient: Patient, protocol_id: str, sessions: int | None = None) -> PlanPreview:
    """Compute the plan from the latest weight and collect what blocks it. Saves nothing."""
    protocol = protocol_library().get(protocol_id)
    n = protocol.sessions if sessions is None else int(sessions)
    preview = PlanPreview(protocol=protocol, sessions=n, weight=weight_check(patient))
    preview.eligibility = eligibility_check(patient, protocol.drug)
    preview.consent = current_treatment_consent(patient, protocol.drug, protocol.id)
    if preview.weight.problem:
        preview.blockers.append(preview.weight.problem)
    if not preview.eligibility.ok:
        preview.blockers.append(preview.eligibility.message)
    preview.indication_problems = indication_problems(patient, protocol, n)
    preview.blockers += [message for _, message in preview.indication_problems]
    preview.premedication_notes = premedication_notes(protocol)
    if preview.consent is None:
        preview.blockers.append(
            f"No signed treatment consent for {protocol.title}: record consent first."
        )
    if protocol.id not in {p.id for p in offered_protocols()}:
        preview.blockers.append(
            f"{protocol.title} is an inpatient protocol and this clinic is not configured for "
            "inpatients: it cannot be planned here."
        )
    if preview.weight.weight is None or preview.weight.problem:
        return preview
    try:
        preview.plan = clinical.plan(
            protocol.id,
            plan_patient_covariates(patient, preview.weight.weight),
            sessions=n,
            library=protocol_library(),
        )
    except clinical.ClinicalInputError as error:
        preview.input_error = str(error)
        preview.blockers.append(f"The plan cannot be calculated: {error}")
        return preview
    if preview.plan.status == "hard_limit":
        preview.blockers.append("A dose crosses a HARD limit: the plan is refused.")
    elif preview.plan.blocked:
        preview.blockers.append("The dose check disagrees with the calculator: plan blocked.")
    return preview


def session_rows(plan_dict: dict[str, Any]) -> list[dict[str, Any]]:
    """One PlannedSession's fields per planned session (rates as delivered by the pump)."""
    rows = []
    for session in plan_dict["sessions"]:
        steps = []
        for step in session["steps"]:
            calc = step["calculation"]
            steps.append(
                {
                    "label": step["label"],
                    "start_min": step["start_min"],
                    "duration_min": step["duration_min"],
                    "rate_mg_per_h": calc["delivered_rate_mg_per_h"],
                    "rate_ml_per_h": step["rate_ml_per_h"],
                    "concentration_mg_per_ml": calc["concentration_mg_per_ml"],
                    "total_mg": step["total_mg"],
                    "ordered_rate_mg_per_h": step["rate_mg_per_h"],
                    # The order as sent to the calculator (IBW doses already in mg or mg/h).
                    "dose_value": step["order"]["dose"]["value"],
                    "dose_unit": step["order"]["dose"]["unit"],
                    "dose_weight_kg": calc["dose_weight_kg"],
                    "limit_status": step["status"],
                }
            )
        rows.append(
            {
                "number": session["number"],
                "day_offset": round(session["day"]),
                "duration_min": round(sum(s["duration_min"] for s in steps)),
                "total_mg": Decimal(str(round(session["total_mg"], 2))),
                "steps": steps,
            }
        )
    return rows


@service(ROLES.create_plan, category=TREATMENT_CATEGORY, action=Action.CREATE)
def do_create_plan(
    actor: Actor,
    patient: Patient,
    *,
    protocol_id: str,
    sessions: int,
    soft_limit_reason: str,
    expected_weight_id: int | None,
) -> TreatmentPlan:
    """Recompute and save the plan, or refuse it (nothing saved; the refusal is audited).

    ``within`` → active; ``soft_limit`` → needs a reason, saved awaiting a second physician's
    co-signature; ``hard_limit`` → :class:`HardLimitRefused` with the dose and the limit.
    """
    prescriber = actor.user
    note_subject(patient=patient, protocol_id=protocol_id)
    if protocol_id not in protocol_library().protocols:
        raise ServiceError(f"No protocol {protocol_id!r} in the library.", "protocol_id")
    with transaction.atomic():
        # Serialise plan creation per patient (the weight and consent rows are re-read).
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        preview = preview_plan(patient, protocol_id, sessions)
        weight = preview.weight.weight
        if weight is not None and expected_weight_id and weight.pk != expected_weight_id:
            raise ServiceError(
                "The patient's weight changed since the doses were calculated: "
                "recalculate and check the doses again.",
                detail={"expected_weight_id": expected_weight_id, "weight_id": weight.pk},
            )
        if preview.hard_limits:
            assert preview.plan is not None and weight is not None
            first = preview.hard_limits[0]
            raise HardLimitRefused(
                f"Refused: {first.quantity} {first.value} crosses the {first.limit} "
                f"[{first.source}]. Nothing was saved.",
                detail={
                    **hard_limit_detail(preview.plan.to_dict()),
                    "weight_id": weight.pk,
                    "weight_kg": str(weight.weight_kg),
                },
            )
        for problem_field, message in preview.indication_problems:
            raise ServiceError(
                message,
                problem_field,
                detail={
                    "protocol_id": protocol_id,
                    "sessions": sessions,
                    "indications": list(preview.protocol.indications),
                    "eligibility": preview.eligibility.snapshot if preview.eligibility else {},
                },
            )
        if preview.blockers:
            raise ServiceError(" ".join(preview.blockers))
        computed = preview.plan
        assert computed is not None and weight is not None and preview.eligibility is not None
        reason = (soft_limit_reason or "").strip()
        if computed.status == "soft_limit" and not reason:
            raise ServiceError(
                "A dose is above a soft limit: write the clinical reason to save the plan "
                "for a second physician's co-signature.",
                "soft_limit_reason",
            )
        plan_dict = computed.to_dict()
        now = timezone.now()
        soft = computed.status == "soft_limit"
        plan = TreatmentPlan.objects.create(
            patient=patient,
            drug=computed.drug,
            protocol_id=computed.protocol_id,
            protocol_version=computed.protocol_version,
            weight=weight,
            dosing_weight_kg=Decimal(str(round(computed.dosing_weight_kg, 1))),
            plan_data=plan_dict,
            limit_status=computed.status,
            soft_limit_reason=reason if soft else "",
            status=PlanStatus.AWAITING_COSIGN if soft else PlanStatus.ACTIVE,
            prescribed_by=prescriber,
            prescribed_at=now,
            consent=preview.consent,
            eligibility=preview.eligibility.snapshot,
        )
        rows = session_rows(plan_dict)
        PlannedSession.objects.bulk_create(PlannedSession(plan=plan, **row) for row in rows)
        audit(
            actor,
            category=TREATMENT_CATEGORY,
            action=Action.CREATE,
            patient=patient,
            obj=plan,
            detail={
                "protocol_id": plan.protocol_id,
                "protocol_version": plan.protocol_version,
                "sessions": len(rows),
                "weight_id": weight.pk,
                "weight_kg": str(weight.weight_kg),
                "weight_measured_on": weight.measured_on.isoformat(),
                "limit_status": plan.limit_status,
                "status": plan.status,
                "soft_limit_reason": plan.soft_limit_reason,
                "soft_limits": [b.__dict__ for b in preview.soft_limits][:20],
                "consent_id": preview.consent.pk if preview.consent else None,
                "eligibility": plan.eligibility,
                "total_mg_per_session": [str(r["total_mg"]) for r in rows][:20],
            },
        )
    return plan


def _locked_plan(plan_id: int, expected_version: int) -> TreatmentPlan:
    """The plan, locked, if it is still at ``expected_version``; else :class:`PlanConflict`
    (raised inside the caller's transaction: the service decorator audits it after the
    rollback, so the conflict stays on record)."""
    plan = TreatmentPlan.objects.select_for_update().get(pk=plan_id)
    note_subject(patient=plan.patient, obj=plan)
    if plan.version != expected_version:
        raise PlanConflict(plan, expected_version)
    return plan


@service(ROLES.cosign_plan, category=TREATMENT_CATEGORY, action=Action.UPDATE)
def do_cosign_plan(
    actor: Actor, plan_id: int, expected_version: int, note: str = ""
) -> TreatmentPlan:
    """A second physician (not the prescriber) co-signs a soft-limit plan; it becomes active
    if the eligibility decision and the consent still hold."""
    user = actor.user
    with transaction.atomic():
        plan = _locked_plan(plan_id, expected_version)
        if plan.status != PlanStatus.AWAITING_COSIGN:
            raise ServiceError(
                f"This plan is {plan.get_status_display().lower()}: nothing to co-sign."
            )
        if plan.prescribed_by_id == user.pk:
            raise ServiceError("You prescribed this plan: a second physician must co-sign it.")
        eligibility = eligibility_check(plan.patient, plan.drug)
        if not eligibility.ok:
            raise ServiceError(eligibility.message)
        consent = current_treatment_consent(plan.patient, plan.drug, plan.protocol_id)
        if consent is None:
            raise ServiceError("The treatment consent for this protocol is not in force.")
        now = timezone.now()
        plan.status = PlanStatus.ACTIVE
        plan.cosigned_by = user
        plan.cosigned_at = now
        plan.cosign_note = note.strip()
        plan.consent = consent
        plan.eligibility = eligibility.snapshot
        plan.version = F("version") + 1  # type: ignore[assignment]
        plan.save(
            update_fields=[
                "status",
                "cosigned_by",
                "cosigned_at",
                "cosign_note",
                "consent",
                "eligibility",
                "version",
            ]
        )
        plan.refresh_from_db()
        audit(
            actor,
            category=TREATMENT_CATEGORY,
            action=Action.UPDATE,
            patient=plan.patient,
            obj=plan,
            detail={
                "event": "cosign",
                "before": {"status": PlanStatus.AWAITING_COSIGN},
                "after": {"status": plan.status},
                "prescribed_by": plan.prescribed_by_id,
                "cosigned_by": user.username,
                "soft_limit_reason": plan.soft_limit_reason,
                "note": plan.cosign_note,
            },
        )
    return plan


def _cancel(actor: Actor, plan: TreatmentPlan, reason: str, user: User, now: dt.datetime) -> None:
    """Cancel a locked plan and audit it. A plain helper, not a service: it runs only inside
    the transaction of ``do_cancel_plan`` or ``do_withdraw_treatment_consent``, which checked
    the role."""
    before = plan.status
    plan.status = PlanStatus.CANCELLED
    plan.cancelled_reason = reason
    plan.cancelled_by = user
    plan.cancelled_at = now
    plan.version = F("version") + 1  # type: ignore[assignment]
    plan.save(
        update_fields=["status", "cancelled_reason", "cancelled_by", "cancelled_at", "version"]
    )
    plan.refresh_from_db()
    audit(
        actor,
        category=TREATMENT_CATEGORY,
        action=Action.UPDATE,
        patient=plan.patient,
        obj=plan,
        detail={
            "event": "cancel",
            "before": {"status": before},
            "after": {"status": plan.status},
            "reason": reason,
        },
    )


@service(ROLES.cancel_plan, category=TREATMENT_CATEGORY, action=Action.UPDATE)
def do_cancel_plan(actor: Actor, plan_id: int, expected_version: int, reason: str) -> TreatmentPlan:
    """Cancel an active or awaiting plan with a reason (kept, never deleted)."""
    user = actor.user
    with transaction.atomic():
        plan = _locked_plan(plan_id, expected_version)
        if plan.status not in (PlanStatus.ACTIVE, PlanStatus.AWAITING_COSIGN):
            raise ServiceError(f"This plan is already {plan.get_status_display().lower()}.")
        if not reason.strip():
            raise ServiceError("Give the reason for cancelling.", "reason")
        _cancel(actor, plan, reason.strip(), user, timezone.now())
    return plan


def plan_is_usable(plan: TreatmentPlan) -> bool:
    """May sessions of this plan be booked or infused? Only an active plan."""
    return plan.status == PlanStatus.ACTIVE
