"""The top bar's links to the worklist and to the person's home page, each with its count.

Counts are read only when a page draws the top bar, at most one query each whatever the size
of the data: the worklist's open tasks the person can act on (one COUNT); the home page's
badge (physician: co-signatures waiting, in one statement; front desk: referrals to triage;
nurse: infusions running now). Billing's and the clinic admin's counts are slower to make on a
large clinic (money, the audit trail): their badge is the total their home page counted last,
kept for a few minutes, and no query at all on other pages.
"""

from __future__ import annotations

import functools
from typing import Any

from django.apps import apps as django_apps
from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse

from painclinic.web.accounts.models import Role
from painclinic.web.worklist import homes
from painclinic.web.worklist.roles import ROLES
from painclinic.web.worklist.services import open_task_count


class WorklistLink:
    def __init__(self, role: str) -> None:
        self.role = role
        self.url = reverse("worklist:home")

    @functools.cached_property
    def count(self) -> int:
        return open_task_count(self.role)


BADGE_TITLES = {
    Role.PHYSICIAN: "co-signatures waiting",
    Role.NURSE: "infusions running now",
    Role.FRONT_DESK: "referrals to triage",
    Role.BILLING: "waiting when you last opened this page",
    Role.CLINIC_ADMIN: "waiting when you last opened this page",
}


class HomeLink:
    """The person's home page ("Today") and its badge, counted on first use."""

    def __init__(self, user: Any, counted: int | None = None) -> None:
        self.user = user
        self.counted = counted
        self.role = str(user.role)
        self.url = reverse("worklist:today")
        self.title = BADGE_TITLES.get(Role(self.role), "")

    @functools.cached_property
    def count(self) -> int:
        if self.counted is not None:  # the home page itself has just counted it
            return self.counted
        if self.role == Role.PHYSICIAN:
            found = homes.counts(
                plans=homes.plans_to_cosign(self.user),
                decisions=homes.decisions_to_cosign(self.user),
            )
            return found["plans"] + found["decisions"]
        if self.role == Role.NURSE:
            return homes.running_infusions().count()
        if self.role == Role.FRONT_DESK:
            if not django_apps.is_installed("painclinic.web.referrals"):
                return 0
            try:
                model = django_apps.get_model("referrals", "Referral")
            except LookupError:
                return 0
            return int(model.objects.filter(status="new").count())
        return int(cache.get(f"worklist:home-badge:{self.user.pk}") or 0)


def worklist_nav(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = getattr(user, "role", "") if user is not None and user.is_authenticated else ""
    return {
        "worklist_nav": WorklistLink(role) if role in ROLES.view_worklist else None,
        "home_nav": (
            HomeLink(user, getattr(request, "home_badge", None))
            if role in ROLES.view_home
            else None
        ),
    }
