"""Outcome records: a physician's decision on a recommendation, and each plan's outcome
summary (derived from the follow-up answers, kept so the dashboard aggregates in the
database)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Decision(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    DISMISSED = "dismissed", "Dismissed"


class RecommendationDecision(models.Model):
    """A physician accepted or dismissed the engine's next step for a patient. Never edited:
    a new trajectory (new answers, a new plan) gives a new recommendation and a new card."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="recommendation_decisions"
    )
    recommendation = models.CharField(max_length=40)
    # sha256 of the trial history the engine was given: the card the decision belongs to.
    basis_key = models.CharField(max_length=64)
    history = models.JSONField()
    engine_result = models.JSONField()
    decision = models.CharField(max_length=20, choices=Decision.choices)
    reason = models.TextField(blank=True)
    # The protocol the treatment workflow was started with (accepted booster or trial).
    protocol_id = models.CharField(max_length=60, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["-decided_at", "-id"]
        indexes = [models.Index(fields=["patient", "basis_key"], name="outcome_decision_basis")]

    def __str__(self) -> str:
        return f"{self.decision} {self.recommendation} for patient {self.patient_id}"


class PlanOutcome(models.Model):
    """One treatment plan's outcome, recomputed by the clinical core whenever one of its
    follow-up time points is completed. Derived data: rebuilt from the answers at any time
    (``summary.refresh_plans``)."""

    plan = models.OneToOneField(
        "treatments.TreatmentPlan", on_delete=models.PROTECT, related_name="outcome"
    )
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    drug = models.CharField(max_length=20)
    protocol_id = models.CharField(max_length=60)
    condition = models.CharField(max_length=40, blank=True)
    baseline_nrs = models.PositiveSmallIntegerField(null=True, blank=True)
    # None: not assessed at that time point, or undecided (PGIC missing).
    responder_week_4 = models.BooleanField(null=True, blank=True)
    responder_week_12 = models.BooleanField(null=True, blank=True)
    responded = models.BooleanField(default=False)
    # Days after the last infusion on which the response was no longer met.
    relief_lost_day = models.PositiveIntegerField(null=True, blank=True)
    refreshed_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["condition", "protocol_id"], name="outcome_plan_group"),
        ]

    def __str__(self) -> str:
        return f"outcome of plan {self.plan_id}"
