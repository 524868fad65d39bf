"""Who may do what with accounts: read by the account views and services."""

from __future__ import annotations

from painclinic.web.accounts.models import Role
from painclinic.web.lib.service import RoleTable

# Every role a person signs in with (the system role never signs in).
SIGN_IN_ROLES = tuple(role for role in Role if role != Role.SYSTEM)

ROLES = RoleTable(
    own_account=SIGN_IN_ROLES,
    list_staff=(Role.CLINIC_ADMIN,),
    create_staff=(Role.CLINIC_ADMIN,),
    change_role=(Role.CLINIC_ADMIN,),
    reset_password=(Role.CLINIC_ADMIN,),
    # The services behind the two staff pages also serve the server's operator, who creates the
    # first clinic admin and recovers a locked-out one from the command line (`painclinic
    # accounts`), acting as the system user; no page admits the system role.
    create_staff_account=(Role.CLINIC_ADMIN, Role.SYSTEM),
    reset_staff_password=(Role.CLINIC_ADMIN, Role.SYSTEM),
)
