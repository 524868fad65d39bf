"""Who may do what with assessments and eligibility decisions: read by the views
(``@allow_roles``) and by the services (``@service``), so the two cannot drift."""

from __future__ import annotations

from painclinic.web.accounts.models import Role
from painclinic.web.lib.service import RoleTable

CLINICIANS = (Role.PHYSICIAN, Role.NURSE)

ROLES = RoleTable(
    # services
    record_assessment=CLINICIANS,
    record_eligibility=(Role.PHYSICIAN,),
    cosign_eligibility=(Role.PHYSICIAN,),
    resolve_checklist_item=CLINICIANS,
    # pages that only read
    view_patient=CLINICIANS,
    view_result=CLINICIANS,
    view_decision=CLINICIANS,
)
