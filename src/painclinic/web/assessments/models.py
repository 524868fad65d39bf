"""Scored instruments, eligibility decisions and the missing-information checklist.

All three are append-only clinical records: an assessment is corrected by a new assessment that
``supersedes`` it, an eligibility decision by a newer decision, and a checklist item is resolved
(never deleted). Only ``services.py`` writes them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

# The instruments a clinician completes here (diagnostic criteria, screening, baseline measures
# and the follow-up PGIC), in the order the patient page lists them.
CRITERIA_INSTRUMENTS = ("budapest", "acr2016", "dn4", "dn4_interview", "lanss")
BASELINE_INSTRUMENTS = ("nrs", "bpi", "phq9", "pgic")
FORM_INSTRUMENTS = CRITERIA_INSTRUMENTS + BASELINE_INSTRUMENTS


class Assessment(models.Model):
    """One completed instrument: the raw answers and the core's scored result."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="assessments"
    )
    instrument = models.CharField(max_length=30)
    # Exactly what painclinic.clinical.score(instrument, answers) was given.
    answers = models.JSONField()
    # InstrumentResult.to_dict(): score, band, met, flags, reasons (and details when present).
    result = models.JSONField()
    # Copies of result fields for listing and querying.
    score = models.FloatField(null=True, blank=True)
    band = models.CharField(max_length=60, blank=True)
    met = models.BooleanField(null=True, blank=True)
    flags = models.JSONField(default=list, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    completed_at = models.DateTimeField()
    supersedes = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="superseded_by",
    )
    correction_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-completed_at", "-id"]
        indexes = [
            models.Index(
                fields=["patient", "instrument", "-completed_at"], name="assessment_patient_instr"
            )
        ]

    def __str__(self) -> str:
        return f"{self.instrument} for patient {self.patient_id}"

    @property
    def self_harm_risk(self) -> bool:
        return "self_harm_risk" in (self.flags or [])


class EngineStatus(models.TextChoices):
    ELIGIBLE = "eligible", "Eligible"
    ELIGIBLE_WITH_CAUTIONS = "eligible_with_cautions", "Eligible with cautions"
    NOT_ELIGIBLE = "not_eligible", "Not eligible"


class PhysicianDecision(models.TextChoices):
    ACCEPT = "accept", "Accepted the recommendation"
    OVERRIDE = "override", "Overrode the recommendation"


class EligibilityDrug(models.TextChoices):
    KETAMINE = "ketamine", "Ketamine"
    LIDOCAINE = "lidocaine", "Lidocaine"


class EligibilityDecision(models.Model):
    """A physician's decision for one drug, with the facts and the engine result it rests on."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="eligibility_decisions"
    )
    drug = models.CharField(max_length=20, choices=EligibilityDrug.choices)
    condition = models.CharField(max_length=40)
    # The facts JSON given to painclinic.clinical.assess_eligibility (see eligibility.py).
    facts = models.JSONField()
    # DrugEligibility.to_dict() for this drug (every reason with rule id and sources).
    engine_result = models.JSONField()
    engine_status = models.CharField(max_length=30, choices=EngineStatus.choices)
    physician_decision = models.CharField(max_length=10, choices=PhysicianDecision.choices)
    final_status = models.CharField(max_length=30, choices=EngineStatus.choices)
    override_reason = models.TextField(blank=True)
    policy_versions = models.JSONField(default=dict)
    # Where the recorded facts came from (kept for the reader; the facts JSON is authoritative).
    criteria_assessment = models.ForeignKey(
        Assessment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    weight = models.ForeignKey(
        "patients.WeightMeasurement",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField()
    # Overriding an absolute contraindication needs a second physician, like a soft dose
    # limit: the decision holds only once someone other than decided_by has co-signed it.
    cosign_required = models.BooleanField(default=False)
    cosigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cosigned_at = models.DateTimeField(null=True, blank=True)
    cosign_note = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "drug", "-decided_at"], name="eligibility_patient_drug")
        ]

    def __str__(self) -> str:
        return f"{self.drug} {self.final_status} for patient {self.patient_id}"

    @property
    def awaiting_cosign(self) -> bool:
        return self.cosign_required and self.cosigned_at is None


class ChecklistItem(models.Model):
    """Missing information the engine named: to be obtained before the first infusion."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="checklist_items"
    )
    text = models.TextField()
    rule_id = models.CharField(max_length=30)
    drug = models.CharField(max_length=20, choices=EligibilityDrug.choices)
    source_decision = models.ForeignKey(
        EligibilityDecision, on_delete=models.PROTECT, related_name="checklist_items"
    )
    created_at = models.DateTimeField()
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        # Open items first (NULL resolved_at), the same on SQLite and PostgreSQL.
        ordering = [models.F("resolved_at").asc(nulls_first=True), "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.rule_id} for patient {self.patient_id}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
