"""The worklist's link in the top bar, with the count of open tasks the person can act on.

The count is one COUNT query, run only when a page draws the top bar, whatever the number of
tasks (physicians: every open task; nurses: the open less urgent ones they can acknowledge).
"""

from __future__ import annotations

import functools
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from painclinic.web.worklist.roles import ROLES
from painclinic.web.worklist.services import open_task_count


class WorklistLink:
    def __init__(self, role: str) -> None:
        self.role = role
        self.url = reverse("worklist:home")

    @functools.cached_property
    def count(self) -> int:
        return open_task_count(self.role)


def worklist_nav(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = getattr(user, "role", "") if user is not None and user.is_authenticated else ""
    return {"worklist_nav": WorklistLink(role) if role in ROLES.view_worklist else None}
