"""Follow-up after a series: its time points and the reminders sent for them.

Time points are derived from the series' bookings and the clinic's follow-up policy
(``painclinic.clinical.followup``) and re-planned when the series moves; a time point that has
answers keeps its dates. Reminders are never deleted: each is one e-mail that went out, might
have gone out (the worker stopped while sending it), failed, or waits for a retry.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TimePointStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    COMPLETED = "completed", "Completed"
    # The series ended before its first infusion (plan cancelled): nothing to follow.
    CANCELLED = "cancelled", "Cancelled"


class FollowUpTimePoint(models.Model):
    plan = models.ForeignKey(
        "treatments.TreatmentPlan", on_delete=models.PROTECT, related_name="followup_points"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="followup_points"
    )
    key = models.CharField(max_length=30)
    label = models.CharField(max_length=100)
    opens_on = models.DateField()
    due_on = models.DateField(db_index=True)
    overdue_from = models.DateField()
    closes_on = models.DateField(db_index=True)
    instruments = models.JSONField()
    policy_version = models.CharField(max_length=40)
    status = models.CharField(
        max_length=20, choices=TimePointStatus.choices, default=TimePointStatus.SCHEDULED
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    replanned_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["plan", "key"], name="one_time_point_per_key")
        ]
        ordering = ["due_on", "id"]

    def __str__(self) -> str:
        return f"{self.label} ({self.due_on.isoformat()})"


class ReminderStatus(models.TextChoices):
    QUEUED = "queued", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    RETRY = "retry", "Failed; will be tried again"
    FAILED = "failed", "Failed"
    # The worker stopped while sending: the e-mail may or may not have gone. Never sent again.
    UNCONFIRMED = "unconfirmed", "Not confirmed (the worker stopped while sending)"
    # Not sent: the patient answered, withdrew e-mail consent or the window closed meanwhile.
    WITHDRAWN = "withdrawn", "Not sent (no longer due)"


class Reminder(models.Model):
    time_point = models.ForeignKey(
        FollowUpTimePoint, on_delete=models.PROTECT, related_name="reminders"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="followup_reminders"
    )
    # The clinic-local day the reminder belongs to: one per time point per day.
    local_day = models.DateField()
    number = models.PositiveSmallIntegerField(help_text="1 for the first reminder, ...")
    status = models.CharField(max_length=20, choices=ReminderStatus.choices, db_index=True)
    to_address = models.EmailField()
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["time_point", "local_day"], name="one_reminder_per_time_point_per_day"
            ),
            models.UniqueConstraint(
                fields=["time_point", "number"], name="reminder_numbers_unique"
            ),
        ]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"reminder {self.number} for {self.time_point_id} on {self.local_day.isoformat()}"


class AnswerChannel(models.TextChoices):
    PORTAL = "portal", "Patient portal"
    LINK = "link", "Reminder link"
    PHONE = "phone", "By phone, entered by staff"
    CLINIC = "clinic", "In the clinic, entered by staff"


class ResponseStatus(models.TextChoices):
    DRAFT = "draft", "In progress"
    SUBMITTED = "submitted", "Submitted"


class FollowUpResponse(models.Model):
    """One questionnaire of one time point: answers saved as they are given, scored when the
    time point is submitted. Never deleted; a submitted response is not changed."""

    time_point = models.ForeignKey(
        FollowUpTimePoint, on_delete=models.PROTECT, related_name="responses"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="followup_responses"
    )
    instrument = models.CharField(max_length=30)
    answers = models.JSONField(default=dict)
    status = models.CharField(
        max_length=20, choices=ResponseStatus.choices, default=ResponseStatus.DRAFT
    )
    channel = models.CharField(max_length=20, choices=AnswerChannel.choices)
    # The staff member who entered answers given by phone or in the clinic.
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    result = models.JSONField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    band = models.CharField(max_length=60, blank=True)
    flags = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["time_point", "instrument"], name="one_response_per_instrument"
            )
        ]
        indexes = [models.Index(fields=["patient", "instrument", "submitted_at"])]
        ordering = ["time_point__due_on", "id"]

    def __str__(self) -> str:
        return f"{self.instrument} for {self.time_point_id} ({self.status})"


class FollowUpLink(models.Model):
    """A single-use link to one time point's questionnaires (from a reminder e-mail).

    Only a hash of the token is stored. It opens that time point only, until it expires, is
    used (the time point is submitted through it) or is replaced by a newer link.
    """

    time_point = models.ForeignKey(
        FollowUpTimePoint, on_delete=models.PROTECT, related_name="links"
    )
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"link to time point {self.time_point_id}"
