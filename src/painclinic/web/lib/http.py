"""The one place a web request becomes an :class:`~painclinic.web.lib.service.Actor`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from painclinic.web.lib.actor import Actor, Channel


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: the first X-Forwarded-For hop only behind a trusted proxy."""
    if getattr(settings, "TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR") or None


def actor_of(request: HttpRequest, user: object = None) -> Actor:
    """Who acts in this request: its signed-in user (or ``user``, for the log-in signal)."""
    if user is None:
        current = getattr(request, "user", None)
        user = current if getattr(current, "is_authenticated", False) else None
    return Actor(user, Channel.WEB, request.path[:200], client_ip(request))


def acting_user(request: HttpRequest) -> Any:
    """The signed-in user of a request that the role gate has already let through."""
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        raise PermissionDenied("no signed-in user")
    return user
