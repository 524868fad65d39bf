from __future__ import annotations

import functools
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from painclinic.web.accounts.models import STAFF_ROLES, Role

StrOrPromise = str | Promise

P, N, F, B, A = Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.BILLING, Role.CLINIC_ADMIN

# The top bar: (label, URL name, roles that see it). The views enforce access on their own;
# this only keeps people from being offered pages they cannot open.
NAVIGATION: tuple[tuple[StrOrPromise, str, frozenset[str]], ...] = (
    (_("Patients"), "patients:search", STAFF_ROLES),
    (_("Register"), "patients:register", frozenset({P, N, F})),
    (_("Chair board"), "scheduling:board", STAFF_ROLES - {B}),
    (_("Drug register"), "drugregister:home", frozenset({P, N, A})),
    (_("Serious events"), "infusions:serious_events", frozenset({P, N, A})),
    (_("SAE reports due"), "infusions:serious_events_to_report", frozenset({P, A})),
    (_("Outcomes"), "outcomes:dashboard", frozenset({P, A})),
    (_("Billing"), "billing:home", frozenset({B, A})),
    (_("Fees"), "treatments:fees", frozenset({B, A})),
    (_("Chairs"), "scheduling:chairs", frozenset({A})),
    (_("Audit report"), "audit:report", frozenset({A})),
    (_("Staff"), "accounts:staff_list", frozenset({A})),
    (_("My record"), "portal:home", frozenset({Role.PATIENT})),
    (_("Who viewed my record"), "portal:access_log", frozenset({Role.PATIENT})),
)


@functools.cache
def navigation_for(role: str) -> tuple[tuple[StrOrPromise, str], ...]:
    """(label, URL) of the top-bar links ``role`` sees, reversed once per process."""
    return tuple((label, reverse(name)) for label, name, roles in NAVIGATION if role in roles)


def role_context(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = getattr(user, "role", "") if user is not None and user.is_authenticated else ""
    return {"Role": Role, "user_role": role, "navigation": navigation_for(role) if role else ()}
