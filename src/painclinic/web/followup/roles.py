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
    # A single-use link to one time point: issued by the worker with a reminder, or by a nurse
    # or physician; opened for a visitor who is not signed in by the system user; submitting
    # through it is the patient's.
    issue_link=(Role.SYSTEM, Role.NURSE, Role.PHYSICIAN),
    open_link=(Role.SYSTEM,),
    submit_through_link=(Role.PATIENT,),
    # --- pages that only read ---
    view_followup=(Role.PHYSICIAN, Role.NURSE),
    # The questionnaire pages: the patient (portal), a nurse or physician (answers by phone).
    answer_pages=(Role.PATIENT, Role.NURSE, Role.PHYSICIAN),
)
