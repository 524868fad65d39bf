"""A clinician's worklist: tasks raised by a finding that needs a person to act.

A task is never deleted: it stays open (on the worklist) until a clinician acknowledges it with
the action taken, and stays readable afterwards.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Urgency(models.TextChoices):
    URGENT = "urgent", "Urgent: today"
    SOON = "soon", "Soon"


class TaskKind(models.TextChoices):
    FOLLOWUP_ANSWERS = "followup_answers", "Follow-up answers"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"


class Task(models.Model):
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="worklist_tasks"
    )
    kind = models.CharField(max_length=40, choices=TaskKind.choices)
    urgency = models.CharField(max_length=10, choices=Urgency.choices)
    # 0 urgent, 1 soon: the worklist's order (urgent first) without a CASE expression.
    priority = models.PositiveSmallIntegerField()
    # What the clinician must know, in words (from the rules' clinician messages).
    summary = models.TextField()
    # The rules that fired, with their values and sources (for the audit and the record).
    findings = models.JSONField(default=list)
    # The record that raised it (for example a follow-up time point), by name and id: the
    # worklist knows nothing of the apps that raise tasks.
    source_type = models.CharField(max_length=40)
    source_id = models.PositiveBigIntegerField()
    # The responsible physician (who prescribed the series); every physician sees the task.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    raised_at = models.DateTimeField(db_index=True)
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=20, choices=TaskStatus.choices, default=TaskStatus.OPEN, db_index=True
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action_taken = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["priority", "raised_at", "id"]
        indexes = [models.Index(fields=["status", "priority", "raised_at"])]

    def __str__(self) -> str:
        return f"{self.urgency} task {self.pk} for patient {self.patient_id} ({self.status})"
