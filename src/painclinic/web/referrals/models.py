"""Referrals sent from outside the clinic: by a physician, or by the patient.

A referral is never deleted: triage gives it a status (accepted, declined, duplicate) with who
decided, when and why. An accepted referral points at the registered patient.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    PHYSICIAN = "physician", "From a physician"
    SELF = "self", "From the patient"


class Status(models.TextChoices):
    NEW = "new", "Waiting for triage"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    DUPLICATE = "duplicate", "Duplicate"


class Condition(models.TextChoices):
    CRPS = "crps", _("Complex regional pain syndrome (CRPS)")
    PHN = "phn", _("Postherpetic neuralgia (pain after shingles)")
    DIABETIC_NEUROPATHY = "pdn", _("Painful diabetic neuropathy")
    FIBROMYALGIA = "fibromyalgia", _("Fibromyalgia")
    OTHER = "other", _("Other or not sure")


class Urgency(models.TextChoices):
    ROUTINE = "routine", _("Routine")
    SOON = "soon", _("Soon (within 4 weeks)")
    URGENT = "urgent", _("Urgent: please call me")


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    FRENCH = "fr", "Français (French)"


class Answer(models.TextChoices):
    YES = "yes", _("Yes")
    NO = "no", _("No")
    UNSURE = "unsure", _("Not sure")


class Referral(models.Model):
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)

    # The referring physician (a physician's referral only).
    referrer_name = models.CharField(max_length=200, blank=True)
    referrer_billing_number = models.CharField(max_length=6, blank=True)
    referrer_cpso_number = models.CharField(max_length=10, blank=True)
    referrer_phone = models.CharField(max_length=30, blank=True)
    referrer_fax = models.CharField(max_length=30, blank=True)
    referrer_email = models.EmailField(blank=True)
    referrer_address = models.CharField(max_length=300, blank=True)

    # The patient.
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex_at_birth = models.CharField(max_length=10, blank=True)
    health_card_number = models.CharField(max_length=10, blank=True)
    phone = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=7, blank=True)
    preferred_language = models.CharField(
        max_length=2, choices=Language.choices, default=Language.ENGLISH
    )
    condition = models.CharField(max_length=20, choices=Condition.choices)
    treatments_tried = models.TextField(blank=True)
    reason = models.TextField(blank=True)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.ROUTINE)
    # The self-referral's pre-screen: question key -> yes / no / unsure (information for the
    # clinic's review; it decides nothing).
    prescreen = models.JSONField(default=dict, blank=True)
    consent_to_contact = models.BooleanField(default=False)

    # The referral letter (a physician's referral): stored outside the web root under a random
    # name; the uploaded name is kept here only, for the download's file name.
    letter_file = models.CharField(max_length=80, blank=True)
    letter_original_name = models.CharField(max_length=200, blank=True)
    letter_size_bytes = models.PositiveIntegerField(default=0)
    letter_sha256 = models.CharField(max_length=64, blank=True)

    submitted_at = models.DateTimeField(db_index=True)
    # HMAC of the sender's address under the site's secret: enough for the rate limit, never
    # the address itself.
    client_ip_hash = models.CharField(max_length=64, blank=True)

    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    triaged_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    patient = models.ForeignKey(
        "patients.Patient",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="online_referrals",
    )

    class Meta:
        ordering = ["submitted_at", "id"]
        indexes = [models.Index(fields=["status", "submitted_at"], name="referral_queue")]

    def __str__(self) -> str:
        return f"referral {self.pk} ({self.kind}, {self.status})"

    @property
    def patient_name(self) -> str:
        return f"{self.family_name}, {self.given_name}"


class AttemptOutcome(models.TextChoices):
    RECEIVED = "received", "received"
    INVALID = "invalid", "refused: bad input"
    TRAP = "trap", "refused: automated"


class SubmissionAttempt(models.Model):
    """One POST of a public referral form, for the per-address rate limit (no personal data)."""

    kind = models.CharField(max_length=10, choices=Kind.choices)
    client_ip_hash = models.CharField(max_length=64)
    outcome = models.CharField(max_length=10, choices=AttemptOutcome.choices)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["client_ip_hash", "kind", "at"], name="referral_attempts")]

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome} {self.at:%Y-%m-%d %H:%M}"
