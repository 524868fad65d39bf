"""Registry records.

Nothing here is hard-deleted: corrections are new rows linked to the original.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


def search_key(text: str) -> str:
    """Lower-case, accent-free form used for prefix search ("Côté" is found by "cote")."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().strip()


class ExternalPhysician(models.Model):
    """A referring or family physician outside the clinic."""

    name = models.CharField(max_length=200)
    ohip_billing_number = models.CharField(max_length=6, blank=True, help_text="6 digits")
    cpso_number = models.CharField(max_length=10, blank=True)
    phone = models.CharField(max_length=30, blank=True)
    fax = models.CharField(max_length=30, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        billing = f" (billing {self.ohip_billing_number})" if self.ohip_billing_number else ""
        return f"{self.name}{billing}"


class SexAtBirth(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    INTERSEX = "intersex", _("Intersex")
    UNKNOWN = "unknown", _("Unknown / not disclosed")


class Patient(models.Model):
    legal_given_name = models.CharField("legal given name", max_length=100)
    legal_family_name = models.CharField("legal family name", max_length=100, db_index=True)
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField(db_index=True)
    sex_at_birth = models.CharField(max_length=10, choices=SexAtBirth.choices)
    gender = models.CharField(max_length=60, blank=True)
    health_card_number = models.CharField(max_length=10, blank=True)
    health_card_version = models.CharField(max_length=2, blank=True)
    phone = models.CharField(max_length=30, blank=True)
    phone_digits = models.CharField(max_length=20, blank=True, db_index=True, editable=False)
    # Derived on save for indexed prefix search (a case-insensitive LIKE cannot use an index).
    family_name_key = models.CharField(max_length=100, blank=True, db_index=True, editable=False)
    given_name_key = models.CharField(max_length=100, blank=True, db_index=True, editable=False)
    preferred_name_key = models.CharField(max_length=100, blank=True, db_index=True, editable=False)
    email = models.EmailField(blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    province = models.CharField(max_length=2, default="ON")
    postal_code = models.CharField(max_length=7, blank=True)
    emergency_contact_name = models.CharField(max_length=200, blank=True)
    emergency_contact_relationship = models.CharField(max_length=60, blank=True)
    emergency_contact_phone = models.CharField(max_length=30, blank=True)
    referring_physician = models.ForeignKey(
        ExternalPhysician, null=True, blank=True, on_delete=models.PROTECT, related_name="referrals"
    )
    family_physician = models.ForeignKey(
        ExternalPhysician, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    portal_user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="patient_record",
    )
    # Optimistic lock: an edit must name the version it started from.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["legal_family_name", "legal_given_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["health_card_number"],
                condition=~Q(health_card_number=""),
                name="patient_unique_health_card",
            )
        ]

    def __str__(self) -> str:
        return self.full_name

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.refresh_derived_fields()
        super().save(*args, **kwargs)

    def refresh_derived_fields(self) -> None:
        """Recompute the search columns (bulk_create bypasses save(), so callers use this)."""
        self.phone_digits = "".join(ch for ch in self.phone if ch.isdigit())
        self.family_name_key = search_key(self.legal_family_name)
        self.given_name_key = search_key(self.legal_given_name)
        self.preferred_name_key = search_key(self.preferred_name)

    @property
    def full_name(self) -> str:
        preferred = f" ({self.preferred_name})" if self.preferred_name else ""
        return f"{self.legal_family_name}, {self.legal_given_name}{preferred}"

    @property
    def health_card_display(self) -> str:
        number = self.health_card_number
        if not number:
            return ""
        grouped = f"{number[:4]}-{number[4:7]}-{number[7:]}"
        return f"{grouped} {self.health_card_version}".strip()


class PatientRevision(models.Model):
    """The demographics as they were before an edit, so the original stays readable."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="revisions")
    version = models.PositiveIntegerField()
    snapshot = models.JSONField()
    changed_fields = models.JSONField(default=list)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "version"], name="revision_unique_version")
        ]

    def __str__(self) -> str:
        return f"{self.patient_id} v{self.version}"


class WeightMeasurement(models.Model):
    """Weight in kg only (ISMP). A wrong entry is corrected by a new row pointing at it."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="weights")
    weight_kg = models.DecimalField(
        max_digits=5,
        decimal_places=1,
        validators=[MinValueValidator(Decimal("20")), MaxValueValidator(Decimal("300"))],
    )
    height_cm = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    measured_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()
    correction_of = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrected_by"
    )
    correction_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-measured_on", "-recorded_at", "-id"]
        indexes = [models.Index(fields=["patient", "-measured_on"], name="weight_patient_date")]

    def __str__(self) -> str:
        return f"{self.weight_kg} kg on {self.measured_on}"


class ConsentKind(models.TextChoices):
    TREATMENT = "treatment", _("Treatment")
    EMAIL = "email", _("E-mail communication")
    RESEARCH = "research", _("Research use of data")


class ConsentDecision(models.TextChoices):
    GRANTED = "granted", _("Granted")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Consent(models.Model):
    """Each decision is its own row; a withdrawal is a later row, never an edit."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consents")
    kind = models.CharField(max_length=20, choices=ConsentKind.choices)
    decision = models.CharField(max_length=10, choices=ConsentDecision.choices)
    decided_on = models.DateField()
    document_version = models.CharField(max_length=40)
    witness_name = models.CharField(max_length=200, blank=True)
    notes = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-decided_on", "-recorded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.decision} on {self.decided_on}"
