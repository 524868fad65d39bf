"""Session limits, two-factor enforcement and the role gate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.permissions import ROLES_ATTRIBUTE
from painclinic.web.audit.services import Action, Category, Outcome, audit
from painclinic.web.lib.http import actor_of

LAST_SEEN_KEY = "painclinic_last_seen"
LOGIN_AT_KEY = "painclinic_login_at"


class SessionTimeoutMiddleware:
    """End a session after PAINCLINIC_SESSION_IDLE_MINUTES idle or SESSION_ABSOLUTE_HOURS in all."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            now = timezone.now().timestamp()
            last_seen = request.session.get(LAST_SEEN_KEY, now)
            login_at = request.session.setdefault(LOGIN_AT_KEY, now)
            idle_s = settings.SESSION_IDLE_MINUTES * 60
            absolute_s = settings.SESSION_ABSOLUTE_HOURS * 3600
            if now - last_seen > idle_s or now - login_at > absolute_s:
                reason = "idle" if now - last_seen > idle_s else "absolute"
                audit(
                    actor_of(request),
                    category=Category.ACCOUNT,
                    action=Action.LOGOUT,
                    detail={"reason": f"session {reason} timeout"},
                )
                logout(request)
                idle_minutes = settings.SESSION_IDLE_MINUTES
                messages.info(
                    request,
                    f"You were signed out after {idle_minutes} minutes without activity."
                    if reason == "idle"
                    else f"You were signed out after {settings.SESSION_ABSOLUTE_HOURS} hours.",
                )
                return redirect(f"{reverse('accounts:login')}?next={request.path}")
            request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)


_TWO_FACTOR_EXEMPT = ("accounts:two_factor_setup", "accounts:two_factor_verify", "accounts:logout")


class TwoFactorMiddleware:
    """Roles in MFA_REQUIRED_ROLES, and anyone with a confirmed device, must pass TOTP first."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated or user.is_verified():  # type: ignore[union-attr,attr-defined]
            return None
        match = request.resolver_match
        if match is not None and match.view_name in _TWO_FACTOR_EXEMPT:
            return None
        if not getattr(view_func, "login_required", True):
            return None
        from django_otp.plugins.otp_totp.models import TOTPDevice

        has_device = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        if has_device:
            return redirect(f"{reverse('accounts:two_factor_verify')}?next={request.path}")
        if getattr(user, "role", "") in settings.MFA_REQUIRED_ROLES:
            return redirect("accounts:two_factor_setup")
        return None


_PASSWORD_CHANGE_EXEMPT = (
    "accounts:password_change",
    "accounts:logout",
    "accounts:two_factor_setup",
    "accounts:two_factor_verify",
    "accounts:ping",
)


class PasswordMustChangeMiddleware:
    """After a reset, the temporary password opens only the page that replaces it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated or not getattr(user, "password_must_change", False):
            return None
        match = request.resolver_match
        if match is not None and match.view_name in _PASSWORD_CHANGE_EXEMPT:
            return None
        if not getattr(view_func, "login_required", True):
            return None
        return redirect("accounts:password_change")


class RoleGateMiddleware:
    """Every view must declare the roles it serves; undeclared views are refused."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        if not getattr(view_func, "login_required", True):
            return None  # explicitly public (login, static, health check)
        allowed = getattr(view_func, ROLES_ATTRIBUTE, None)
        role = getattr(request.user, "role", "")
        if allowed is not None and role in allowed:
            return None
        audit(
            actor_of(request),
            category=Category.ACCOUNT,
            action=Action.ACCESS_DENIED,
            outcome=Outcome.DENIED,
            detail={"path": request.path, "method": request.method},
        )
        html = render_to_string("403.html", {"request": request}, request=request)
        return HttpResponseForbidden(html)
