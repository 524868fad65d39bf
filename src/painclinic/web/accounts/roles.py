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
)
