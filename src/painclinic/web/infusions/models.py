"""The infusion session: the record a nurse charts on infusion day."""

from __future__ import annotations

from django.db import models


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CHECKLIST_DONE = "checklist_done", "Checklist done"
    PREPARED = "prepared", "Bag prepared and double-checked"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"
    DISCHARGED = "discharged", "Discharged"
    SIGNED = "signed", "Note signed"
    CANCELLED = "cancelled", "Cancelled"


class InfusionSession(models.Model):
    """One infusion for one booking; charting rows hang off it; ``version`` guards edits."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="infusion_sessions"
    )
    booking = models.OneToOneField(
        "scheduling.Booking", on_delete=models.PROTECT, related_name="infusion_session"
    )
    plan = models.ForeignKey(
        "treatments.TreatmentPlan", on_delete=models.PROTECT, related_name="infusion_sessions"
    )
    planned_session = models.ForeignKey(
        "treatments.PlannedSession", on_delete=models.PROTECT, related_name="infusion_sessions"
    )
    status = models.CharField(
        max_length=20, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-booking__starts_at"]

    def __str__(self) -> str:
        return f"infusion {self.pk} patient {self.patient_id}"
