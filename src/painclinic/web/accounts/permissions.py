"""Deny by default: a view opens only for the roles it names (checked by RoleGateMiddleware)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_not_required

from painclinic.web.accounts.models import STAFF_ROLES

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., Any])

ROLES_ATTRIBUTE = "painclinic_allowed_roles"


def allow_roles(*roles: str | Iterable[str]) -> Callable[[ViewFunc], ViewFunc]:
    """Mark a view as open to ``roles`` (and only them)."""
    allowed: set[str] = set()
    for role in roles:
        if isinstance(role, str):
            allowed.add(str(role))
        else:
            allowed.update(str(r) for r in role)

    def decorate(view: ViewFunc) -> ViewFunc:
        setattr(view, ROLES_ATTRIBUTE, frozenset(allowed))
        return view

    return decorate


def public(view: ViewFunc) -> ViewFunc:  # noqa: UP047 - matches allow_roles
    """Mark a view as reachable without logging in (the explicit allowlist)."""
    return login_not_required(view)


allow_staff = allow_roles(STAFF_ROLES)
