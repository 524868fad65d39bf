"""Who may do what with follow-up: read by the follow-up views and services.

Reminders and re-planning are unattended work (the system user through the worker); the
command line may run the same tick by hand (``painclinic worker --once``), also as the system
user. Physicians and nurses read a patient's follow-up.
"""

from __future__ import annotations

from painclinic.web.accounts.models import Role
from painclinic.web.lib.service import RoleTable

ROLES = RoleTable(
    # --- services (unattended) ---
    plan_followup=(Role.SYSTEM,),
    send_reminders=(Role.SYSTEM,),
    # The patient answers at home (portal or reminder link); a nurse or physician enters
    # answers given by phone or in the clinic.
    answer_followup=(Role.PATIENT, Role.NURSE, Role.PHYSICIAN),
    # --- pages that only read ---
    view_followup=(Role.PHYSICIAN, Role.NURSE),
)
