"""Who may do what with referrals: read by the referral views and services.

A referral arrives through a public form (no sign-in): the page acts as the system user, so the
one service that stores it names only the system role. The front desk and the physicians triage.
"""

from __future__ import annotations

from painclinic.web.accounts.models import Role
from painclinic.web.lib.service import RoleTable

_TRIAGE = (Role.FRONT_DESK, Role.PHYSICIAN)

ROLES = RoleTable(
    # --- services ---
    # The public forms: a visitor who is not signed in, through the system user.
    submit_referral=(Role.SYSTEM,),
    note_attempt=(Role.SYSTEM,),
    accept_referral=_TRIAGE,
    link_referral=_TRIAGE,
    decline_referral=_TRIAGE,
    mark_duplicate=_TRIAGE,
    # --- pages ---
    view_referrals=_TRIAGE,
)
