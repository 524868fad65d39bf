"""Log-in safety: lockout, passwords, idle and absolute timeouts, two-factor, session lifecycle."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from painclinic.web.accounts.models import Role
from tests.conftest import PASSWORD

LOGIN = "/accounts/login/"


def login(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def test_lockout_after_repeated_failures_refuses_even_the_right_password(users, settings):
    client = Client()
    username = users[Role.NURSE].username
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = login(client, username, "wrong-password-123")
        assert response.status_code in (200, 429)
    response = login(client, username, PASSWORD)
    assert response.status_code == 429
    assert b"locked" in response.content.lower()
    assert "_auth_user_id" not in client.session


def test_a_good_password_logs_in_below_the_failure_limit(users, settings):
    client = Client()
    username = users[Role.NURSE].username
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(client, username, "wrong-password-123")
    response = login(client, username, PASSWORD)
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("short-pass1", False),  # 11 characters
        ("password1234", False),  # common
        ("a" * 11 + "Z", True),  # 12 characters, no composition rules
        ("correct horse battery staple " * 3, True),  # long passphrases are fine (87 chars)
    ],
)
def test_password_rules(password, ok, db):
    if ok:
        validate_password(password)
    else:
        with pytest.raises(ValidationError):
            validate_password(password)


def test_staff_session_ends_after_idle_minutes(users, settings, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC), tick=False)
    client = Client()
    assert login(client, users[Role.NURSE].username, PASSWORD).status_code == 302
    assert client.get(reverse("patients:search")).status_code == 200
    time_machine.shift(dt.timedelta(minutes=settings.SESSION_IDLE_MINUTES - 1))
    assert client.get(reverse("patients:search")).status_code == 200
    time_machine.shift(dt.timedelta(minutes=settings.SESSION_IDLE_MINUTES, seconds=1))
    response = client.get(reverse("patients:search"))
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    # The session is gone server-side, not only redirected once.
    assert client.get(reverse("patients:search"))["Location"].startswith(LOGIN)


def test_session_ends_after_absolute_hours_even_when_active(users, settings, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC), tick=False)
    client = Client()
    login(client, users[Role.NURSE].username, PASSWORD)
    for _ in range(settings.SESSION_ABSOLUTE_HOURS * 6 - 1):
        time_machine.shift(dt.timedelta(minutes=10))
        assert client.get(reverse("accounts:ping")).status_code == 200
    time_machine.shift(dt.timedelta(minutes=10, seconds=1))
    assert client.get(reverse("accounts:ping")).status_code == 302


def test_session_id_changes_at_login_and_old_cookie_is_dead_after_logout(users):
    client = Client()
    client.get(LOGIN)
    login(client, users[Role.NURSE].username, PASSWORD)
    cookie = client.cookies["sessionid"].value
    assert client.get(reverse("patients:search")).status_code == 200
    client.post(reverse("accounts:logout"))
    replay = Client()
    replay.cookies["sessionid"] = cookie
    assert replay.get(reverse("patients:search")).status_code == 302


def test_clinic_admin_must_enrol_and_pass_totp(users):
    client = Client()
    login(client, users[Role.CLINIC_ADMIN].username, PASSWORD)
    response = client.get(reverse("audit:report"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:two_factor_setup")
    setup = client.get(reverse("accounts:two_factor_setup"))
    assert setup.status_code == 200
    device = TOTPDevice.objects.get(user=users[Role.CLINIC_ADMIN])
    code = f"{totp(device.bin_key, step=device.step, digits=device.digits):06d}"
    assert client.post(reverse("accounts:two_factor_setup"), {"token": code}).status_code == 302
    assert client.get(reverse("audit:report")).status_code == 200

    # A new session must verify again with the enrolled device.
    second = Client()
    login(second, users[Role.CLINIC_ADMIN].username, PASSWORD)
    response = second.get(reverse("audit:report"))
    assert response["Location"].startswith(reverse("accounts:two_factor_verify"))
    wrong = second.post(reverse("accounts:two_factor_verify"), {"token": "000000"})
    assert wrong.status_code == 200 and wrong.context["form"].errors
    assert second.get(reverse("audit:report")).status_code == 302


def test_other_roles_need_no_totp_by_default(users):
    client = Client()
    login(client, users[Role.PHYSICIAN].username, PASSWORD)
    assert client.get(reverse("patients:search")).status_code == 200


def test_mfa_requirement_is_configurable(users, settings):
    settings.MFA_REQUIRED_ROLES = ["clinicadmin", "physician"]
    client = Client()
    login(client, users[Role.PHYSICIAN].username, PASSWORD)
    assert client.get(reverse("patients:search"))["Location"] == reverse(
        "accounts:two_factor_setup"
    )


def test_state_changing_post_without_csrf_token_fails(users, patient):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users[Role.FRONT_DESK])
    response = client.post(reverse("patients:register"), {"legal_given_name": "X"})
    assert response.status_code == 403
