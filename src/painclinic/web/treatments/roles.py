"""Who may do what with treatment consents, plans and the fee schedule: read by the views
(``@allow_roles``) and by the services (``@service``), so the two cannot drift."""

from __future__ import annotations

from painclinic.web.accounts.models import Role
from painclinic.web.lib.service import RoleTable

P, N, F, B, A = (
    Role.PHYSICIAN,
    Role.NURSE,
    Role.FRONT_DESK,
    Role.BILLING,
    Role.CLINIC_ADMIN,
)

ROLES = RoleTable(
    # services
    add_fee_item=(B, A),
    deactivate_fee_item=(B, A),
    record_treatment_consent=(P,),
    withdraw_treatment_consent=(P,),
    create_plan=(P,),
    cosign_plan=(P,),
    cancel_plan=(P,),
    # pages that only read
    view_patient=(P, N, F, B),
    view_consent=(P, N, F, B),
    view_plan=(P, N),
    list_fees=(B, A),
    # Free text a clinician wrote (why a plan was cancelled or a consent withdrawn): shown to
    # the clinical roles only; the front desk and billing see the status and the date.
    view_clinical_notes=(P, N),
)
