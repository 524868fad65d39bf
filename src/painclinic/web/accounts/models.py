"""Users carry exactly one role; what each role may open is declared on each view."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    PHYSICIAN = "physician", "Physician"
    NURSE = "nurse", "Infusion nurse"
    FRONT_DESK = "frontdesk", "Front desk"
    BILLING = "billing", "Billing"
    CLINIC_ADMIN = "clinicadmin", "Clinic admin"
    PATIENT = "patient", "Patient"
    # Unattended work (reminders, scheduled jobs, command-line operations): never signs in.
    SYSTEM = "system", "System"


STAFF_ROLES = frozenset(
    {Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.BILLING, Role.CLINIC_ADMIN}
)
CLINICAL_ROLES = frozenset({Role.PHYSICIAN, Role.NURSE})


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices)
    # Professional identifiers shown on signed records (CPSO or CNO registration number).
    registration_number = models.CharField(max_length=20, blank=True)
    # Set when a clinic admin (or the server's operator) resets the password: the temporary
    # password signs in once and leads straight to choosing a new one.
    password_must_change = models.BooleanField(default=False)

    @property
    def is_clinic_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username
