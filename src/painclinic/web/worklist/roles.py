"""Who may do what with the clinicians' worklist: read by its views and services.

A task is raised by whatever records the finding: the patient's own follow-up answers (the
patient is the actor) or answers a nurse or physician enters for them. Physicians
see and acknowledge every task; nurses see every task (so they can fetch a physician for an
urgent one) but acknowledge only the less urgent ones ("soon": a sharp rise in pain, a new
adverse effect). An urgent task (thoughts of self-harm, severe depression) is acknowledged by
a physician. Front desk, billing and the clinic admin never see the worklist: its text is
clinical.
"""

from __future__ import annotations

from painclinic.web.accounts.models import Role
from painclinic.web.lib.service import RoleTable

ROLES = RoleTable(
    # The system user does not raise tasks yet (the worker does not escalate).
    raise_task=(Role.PATIENT, Role.NURSE, Role.PHYSICIAN),
    acknowledge_task=(Role.PHYSICIAN, Role.NURSE),
    view_worklist=(Role.PHYSICIAN, Role.NURSE),
    # Each staff role's home page (the work waiting for that role; web/worklist/homes.py).
    view_home=(Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.BILLING, Role.CLINIC_ADMIN),
)

# Who may acknowledge a task of each urgency (checked by the service after the role table).
ACKNOWLEDGE_BY_URGENCY = {
    "urgent": frozenset({str(Role.PHYSICIAN)}),
    "soon": frozenset({str(Role.PHYSICIAN), str(Role.NURSE)}),
}
