from __future__ import annotations

import base64
import io
from typing import Any

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_safe
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from painclinic.web.accounts.forms import (
    PasswordResetForm,
    RoleChangeForm,
    StaffCreateForm,
    TokenForm,
)
from painclinic.web.accounts.models import Role, User
from painclinic.web.accounts.permissions import allow_roles, public
from painclinic.web.accounts.roles import ROLES
from painclinic.web.accounts.services import (
    do_change_password,
    do_change_role,
    do_create_staff,
    do_reset_password,
)
from painclinic.web.audit.services import Action, Category, Outcome, audit
from painclinic.web.lib.http import actor_of
from painclinic.web.lib.service import Refused

# Django's form views answer PUT as POST; these pages serve GET and POST only (405 otherwise).
login_view = public(
    require_http_methods(["GET", "POST"])(
        auth_views.LoginView.as_view(
            template_name="accounts/login.html", redirect_authenticated_user=True
        )
    )
)
logout_view = public(auth_views.LogoutView.as_view())


class AuditedPasswordChangeView(auth_views.PasswordChangeView):
    """Django's page (the current password checked, the validators run), saving through the
    account service so the change is audited; this session stays signed in, others end."""

    def form_valid(self, form: Any) -> HttpResponse:
        try:
            user = do_change_password(actor_of(self.request), form.cleaned_data["new_password1"])
        except Refused as error:
            form.add_error(error.field, error.message)
            return self.form_invalid(form)
        update_session_auth_hash(self.request, user)
        return redirect(self.get_success_url())


password_change_view = allow_roles(ROLES.own_account)(
    require_http_methods(["GET", "POST"])(
        AuditedPasswordChangeView.as_view(
            template_name="accounts/password_change.html", success_url="/"
        )
    )
)


@allow_roles(ROLES.own_account)
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    if request.user.role == Role.PATIENT:  # type: ignore[union-attr]
        return redirect("portal:home")
    # Every staff role lands on its home page: the work waiting for it (worklist/homes.py).
    return redirect("worklist:today")


@allow_roles(ROLES.own_account)
@require_safe
def ping(request: HttpRequest) -> HttpResponse:
    """A trivial authenticated view: keeps the session alive; the bench's framework floor."""
    return JsonResponse({"ok": True})


@public
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """For load balancers: 200 when the database answers, 503 when it does not. No PHI."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "unavailable", "database": "error"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def _safe_next(request: HttpRequest) -> str:
    target = request.GET.get("next") or request.POST.get("next") or "/"
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "/"


def _qr_data_uri(text: str) -> str:
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@allow_roles(ROLES.own_account)
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        messages.info(request, "Two-factor sign-in is already set up for your account.")
        return redirect("accounts:two_factor_verify")
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, confirmed=False, defaults={"name": "authenticator"}
    )
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            audit(
                actor_of(request),
                category=Category.ACCOUNT,
                action=Action.MFA,
                detail={"event": "enrolled"},
            )
            messages.success(request, "Two-factor sign-in is set up.")
            return redirect(_safe_next(request))
        form.add_error("token", "That code did not match. Check the time on your phone and retry.")
    secret = base64.b32encode(device.bin_key).decode()
    context = {"form": form, "qr": _qr_data_uri(device.config_url), "secret": secret}
    return render(request, "accounts/two_factor_setup.html", context)


@allow_roles(ROLES.own_account)
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        for device in TOTPDevice.objects.filter(user=request.user, confirmed=True):
            if device.verify_token(form.cleaned_data["token"]):
                otp_login(request, device)
                audit(
                    actor_of(request),
                    category=Category.ACCOUNT,
                    action=Action.MFA,
                    detail={"event": "verified"},
                )
                return redirect(_safe_next(request))
        audit(
            actor_of(request),
            category=Category.ACCOUNT,
            action=Action.MFA,
            outcome=Outcome.FAILED,
            detail={"event": "wrong code"},
        )
        form.add_error("token", "That code did not match.")
    return render(
        request, "accounts/two_factor_verify.html", {"form": form, "next": _safe_next(request)}
    )


@allow_roles(ROLES.list_staff)
@require_safe
def staff_list(request: HttpRequest) -> HttpResponse:
    users = User.objects.exclude(role__in=(Role.PATIENT, Role.SYSTEM)).order_by(
        "last_name", "first_name", "username"
    )
    return render(request, "accounts/staff_list.html", {"users": users})


@allow_roles(ROLES.create_staff)
@require_http_methods(["GET", "POST"])
def staff_create(request: HttpRequest) -> HttpResponse:
    form = StaffCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = do_create_staff(actor_of(request), form.to_account())
        messages.success(request, f"Account {user.username} created.")
        return redirect("accounts:staff_list")
    return render(request, "accounts/staff_form.html", {"form": form})


@allow_roles(ROLES.change_role)
@require_http_methods(["GET", "POST"])
def staff_role(request: HttpRequest, user_id: int) -> HttpResponse:
    target = get_object_or_404(
        User.objects.exclude(role__in=(Role.PATIENT, Role.SYSTEM)), pk=user_id
    )
    initial: dict[str, Any] = {"role": target.role}
    form = RoleChangeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        if target.pk == request.user.pk:
            form.add_error("role", "You cannot change your own role.")
        else:
            do_change_role(
                actor_of(request),
                target,
                form.cleaned_data["role"],
                form.cleaned_data["reason"],
            )
            messages.success(request, f"{target.username} is now {target.get_role_display()}.")
            return redirect("accounts:staff_list")
    return render(request, "accounts/staff_role.html", {"form": form, "target": target})


@allow_roles(ROLES.reset_password)
@require_http_methods(["GET", "POST"])
def staff_password_reset(request: HttpRequest, user_id: int) -> HttpResponse:
    # Nobody resets their own password here: the service refuses it (403); they change it.
    target = get_object_or_404(
        User.objects.exclude(role__in=(Role.PATIENT, Role.SYSTEM)), pk=user_id
    )
    form = PasswordResetForm(request.POST or None, target=target)
    if request.method == "POST" and form.is_valid():
        try:
            do_reset_password(
                actor_of(request),
                target,
                form.cleaned_data["temporary_password"],
                form.cleaned_data["reason"],
            )
        except Refused as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(
                request,
                f"{target.display_name} has a temporary password; they choose a new one when "
                "they next sign in. Their open sessions have ended.",
            )
            return redirect("accounts:staff_list")
    return render(request, "accounts/staff_password_reset.html", {"form": form, "target": target})
