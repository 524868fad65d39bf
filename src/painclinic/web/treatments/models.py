"""Treatment plans: doses from the protocol library through the dosing calculator."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Drug(models.TextChoices):
    KETAMINE = "ketamine", "Ketamine"
    LIDOCAINE = "lidocaine", "Lidocaine"


class PlanStatus(models.TextChoices):
    AWAITING_COSIGN = "awaiting_cosign", "Awaiting co-signature"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class TreatmentPlan(models.Model):
    """A protocol applied to one patient at one weight. Never edited: a new plan replaces it."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="plans")
    drug = models.CharField(max_length=20, choices=Drug.choices)
    protocol_id = models.CharField(max_length=60)
    protocol_version = models.CharField(max_length=40)
    # The measurement the doses were computed from (ISMP: weigh at each relevant encounter).
    weight = models.ForeignKey(
        "patients.WeightMeasurement", on_delete=models.PROTECT, related_name="+"
    )
    dosing_weight_kg = models.DecimalField(max_digits=5, decimal_places=1)
    # painclinic.clinical.plan(...).to_dict(): the calculator's full result, kept as evidence.
    plan_data = models.JSONField()
    limit_status = models.CharField(max_length=20)  # within | soft_limit (hard_limit is refused)
    soft_limit_reason = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=PlanStatus.choices)
    prescribed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    prescribed_at = models.DateTimeField()
    cosigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cosigned_at = models.DateTimeField(null=True, blank=True)
    cancelled_reason = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    # Added by 0002: what the plan was checked against, and who cancelled it.
    consent = models.ForeignKey(
        "treatments.TreatmentConsent",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="plans",
    )
    eligibility = models.JSONField(default=dict, blank=True)
    cosign_note = models.TextField(blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-prescribed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.protocol_id} for patient {self.patient_id}"


class PlannedSession(models.Model):
    """One session of a plan with its checked doses (copied from plan_data for querying)."""

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.PROTECT, related_name="sessions")
    number = models.PositiveIntegerField()
    day_offset = models.PositiveIntegerField(help_text="days after the first session")
    duration_min = models.PositiveIntegerField()
    total_mg = models.DecimalField(max_digits=8, decimal_places=2)
    # [{"label", "start_min", "duration_min", "rate_mg_per_h", "rate_ml_per_h",
    #   "concentration_mg_per_ml", "total_mg"}] in order.
    steps = models.JSONField()

    class Meta:
        ordering = ["plan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="planned_session_number")
        ]

    def __str__(self) -> str:
        return f"session {self.number} of plan {self.plan_id}"


# --- fee schedule ------------------------------------------------------------------------------


class FeeBasis(models.TextChoices):
    PER_SESSION = "per_session", "Per infusion session"
    PER_CONSULT = "per_consult", "Once per treatment plan (consult, planning)"
    PACKAGE = "package", "Series package (a set number of sessions, paid as one)"
    MISSED = "missed", "Missed appointment (did not attend)"
    LATE_CANCEL = "late_cancel", "Late cancellation"
    SERVICE = "service", "Form, report or other service (billed by hand)"


class TaxCategory(models.TextChoices):
    """Mirrors ``web/lib/data/tax_rules.json`` (its sources and rates live there)."""

    EXEMPT_HEALTH = "exempt_health", "Health service, HST-exempt"
    TAXABLE = "taxable", "Not a health service, HST applies"
    INSURED = "insured", "Insured by OHIP, never billed to the patient"


class FeeItem(models.Model):
    """One line of the clinic's fee schedule (uninsured services). Never deleted: deactivated.

    A price change is a new row with the same ``code`` and a later ``effective_from``; the
    latest active row in effect on a date is the price on that date.
    """

    code = models.CharField(max_length=30)
    description = models.CharField(max_length=200)
    amount_cents = models.PositiveIntegerField()
    basis = models.CharField(max_length=20, choices=FeeBasis.choices)
    # Blank drug / protocol: applies to every drug / protocol.
    drug = models.CharField(max_length=20, choices=Drug.choices, blank=True)
    protocol_id = models.CharField(max_length=60, blank=True)
    # Whether HST applies is decided per item (web/lib/tax.py).
    tax_category = models.CharField(
        max_length=20, choices=TaxCategory.choices, default=TaxCategory.EXEMPT_HEALTH
    )
    # A per-session price that depends on the session's length: applies when the planned
    # infusion lasts at least ``min_minutes`` and at most ``max_minutes`` (blank: any length).
    min_minutes = models.PositiveIntegerField(null=True, blank=True)
    max_minutes = models.PositiveIntegerField(null=True, blank=True)
    # A series package: how many sessions its one price covers.
    package_sessions = models.PositiveIntegerField(null=True, blank=True)
    effective_from = models.DateField()
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    deactivated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code", "-effective_from", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "effective_from"], name="fee_item_code_effective"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.amount_cents} cents from {self.effective_from}"

    def fits_length(self, minutes: int | None) -> bool:
        """Does this per-session price apply to a session of ``minutes`` planned minutes?"""
        if self.min_minutes is None and self.max_minutes is None:
            return True
        if minutes is None:
            return False
        if self.min_minutes is not None and minutes < self.min_minutes:
            return False
        return self.max_minutes is None or minutes <= self.max_minutes


# --- treatment consent -------------------------------------------------------------------------


class TreatmentConsentDecision(models.TextChoices):
    GRANTED = "granted", "Consent given"
    WITHDRAWN = "withdrawn", "Consent withdrawn"


class SignatureMethod(models.TextChoices):
    PAPER = "paper", "Signed on paper (scanned copy kept)"
    TABLET = "tablet", "Signed on the clinic tablet"


class TreatmentConsent(models.Model):
    """Informed consent to one drug and protocol, with what was shown and the cost estimate.

    Append-only: a withdrawal is a new row (``withdraws`` points at the consent withdrawn).
    """

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="treatment_consents"
    )
    decision = models.CharField(max_length=20, choices=TreatmentConsentDecision.choices)
    withdraws = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="withdrawal"
    )
    drug = models.CharField(max_length=20, choices=Drug.choices)
    protocol_id = models.CharField(max_length=60)
    protocol_title = models.CharField(max_length=200)
    protocol_library_version = models.CharField(max_length=40)
    sessions = models.PositiveIntegerField()
    # What the patient was shown, copied so the record does not change if the text does.
    consent_text_version = models.CharField(max_length=40)
    risks = models.JSONField(default=list)
    off_label_statement = models.TextField()
    coverage_statement = models.TextField()
    # {"lines": [{code, description, basis, quantity, unit_cents, amount_cents}],
    #  "insured_lines", "subtotal_cents", "hst_cents", "hst_percent_text", "total_cents", "as_of",
    #  "sessions", "session_minutes"}
    estimate = models.JSONField(default=dict)
    estimate_total_cents = models.PositiveIntegerField(default=0)
    patient_signed_name = models.CharField(max_length=200)
    signature_method = models.CharField(max_length=10, choices=SignatureMethod.choices)
    signed_at = models.DateTimeField()
    obtained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    witness_name = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True, help_text="why consent was withdrawn")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "drug", "protocol_id"], name="tconsent_patient_drug")
        ]

    def __str__(self) -> str:
        return f"{self.decision} {self.protocol_id} for patient {self.patient_id}"
