"""Who may see outcomes and decide on a recommendation (read by views and services)."""

from __future__ import annotations

from painclinic.web.accounts.models import Role
from painclinic.web.lib.service import RoleTable

ROLES = RoleTable(
    # services
    decide_recommendation=(Role.PHYSICIAN,),
    # pages that only read
    view_patient_outcomes=(Role.PHYSICIAN, Role.NURSE),
    view_dashboard=(Role.PHYSICIAN, Role.CLINIC_ADMIN),
)
