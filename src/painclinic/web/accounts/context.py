from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from painclinic.web.accounts.models import Role


def role_context(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = getattr(user, "role", "") if user is not None and user.is_authenticated else ""
    return {"Role": Role, "user_role": role}
