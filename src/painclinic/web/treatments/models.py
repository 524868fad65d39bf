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
