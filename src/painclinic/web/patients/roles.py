"""Who may do what in the patient registry: read by its views and by its services."""

from __future__ import annotations

from painclinic.web.accounts.models import Role
from painclinic.web.lib.service import RoleTable

_STAFF = (Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.BILLING, Role.CLINIC_ADMIN)
_REGISTRARS = (Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK)
_CLINICIANS = (Role.PHYSICIAN, Role.NURSE)

ROLES = RoleTable(
    search=_STAFF,
    view_patient=_STAFF,
    view_history=_STAFF,
    register_patient=_REGISTRARS,
    update_patient=_REGISTRARS,
    record_consent=_REGISTRARS,
    record_weight=_CLINICIANS,
    correct_weight=_CLINICIANS,
    portal=(Role.PATIENT,),
)
