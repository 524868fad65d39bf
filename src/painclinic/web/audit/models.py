"""The audit event: one row per read or write of personal health information, never changed."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from painclinic.web.lib.appendonly import AppendOnlyError, AppendOnlyModel

__all__ = ["Action", "AppendOnlyError", "AuditEvent", "Category", "Outcome"]


class Action(models.TextChoices):
    VIEW = "view", "viewed"
    SEARCH = "search", "searched"
    CREATE = "create", "created"
    UPDATE = "update", "updated"
    AMEND = "amend", "amended"
    EXPORT = "export", "exported"
    LOGIN = "login", "logged in"
    LOGIN_FAILED = "login_failed", "failed login"
    LOGOUT = "logout", "logged out"
    ACCESS_DENIED = "access_denied", "access denied"
    ROLE_CHANGE = "role_change", "role changed"
    MFA = "mfa", "two-factor"


class Outcome(models.TextChoices):
    SUCCESS = "success", "success"
    DENIED = "denied", "denied"
    FAILED = "failed", "failed"
    CONFLICT = "conflict", "conflict"


class Category(models.TextChoices):
    DEMOGRAPHICS = "demographics", "demographics"
    WEIGHT = "weight", "weight and height"
    CONSENT = "consent", "consent"
    ACCESS_LOG = "access_log", "access log"
    AUDIT = "audit", "audit trail"
    ACCOUNT = "account", "account"
    ASSESSMENT = "assessment", "assessment"
    ELIGIBILITY = "eligibility", "eligibility decision"
    TREATMENT = "treatment", "consent and treatment plan"
    BILLING = "billing", "fees and billing"
    SCHEDULING = "scheduling", "bookings"
    INFUSION = "infusion", "infusion chart"
    DRUG_REGISTER = "drug_register", "controlled-drug register"
    FOLLOWUP = "followup", "follow-up and reminders"


CHANNEL_LABELS = {
    "web": "web page",
    "api": "API",
    "cli": "command line",
    "worker": "background job",
}


class AuditEvent(AppendOnlyModel):
    # ``sequence`` is assigned by the chain writer, gap-free, so a deleted row is also detectable.
    sequence = models.PositiveBigIntegerField(unique=True)
    occurred_at = models.DateTimeField(db_index=True)
    # No database constraint on ``actor`` and ``patient`` (the ORM still refuses to delete a
    # user or patient they name: PROTECT): a foreign key would make every audit row take a
    # share lock on the user's and the patient's row, so a page view holding the audit chain's
    # lock would wait for a clinician editing that patient, who waits for the chain: a lock
    # cycle. Audit rows never block, and are never blocked by, clinical edits (the lock order
    # in docs/architecture.md). The names are kept in the row too (``actor_username``).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    actor_username = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=20, blank=True)
    patient = models.ForeignKey(
        "patients.Patient",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    category = models.CharField(max_length=20, choices=Category.choices)
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=50, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    # Through what the action came (web, api, cli, worker) and from where (the request path,
    # the command line, the job's name): covered by the hash like every other field.
    channel = models.CharField(max_length=10, blank=True)
    origin = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    previous_hash = models.CharField(max_length=64)
    # The id of the key whose HMAC seals this event (audit/keys.py); "" for events written
    # before keys existed, sealed with a plain SHA-256 (legacy). Covered by the seal.
    key_id = models.CharField(max_length=32, blank=True, default="")
    event_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-sequence"]
        indexes = [
            models.Index(fields=["patient", "-sequence"], name="audit_patient_seq"),
            models.Index(fields=["actor", "-sequence"], name="audit_actor_seq"),
        ]

    def get_channel_display(self) -> str:
        return CHANNEL_LABELS.get(self.channel, self.channel)

    def __str__(self) -> str:
        return f"#{self.sequence} {self.actor_username} {self.action} {self.category}"
