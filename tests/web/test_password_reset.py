"""Password reset: a clinic admin (or the server's operator) gives a colleague a temporary
password; the reset is audited with its reason and never the password, ends the colleague's
sessions, lifts a log-in lock-out, and the temporary password opens only the page that
replaces it. Django's unaudited account commands are refused."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from typer.testing import CliRunner

from painclinic.cli import app
from painclinic.web.accounts.models import Role, User
from painclinic.web.accounts.services import do_reset_password
from painclinic.web.audit.models import Action, AuditEvent, Category, Outcome
from tests.conftest import PASSWORD, actor_as

TEMPORARY = "violet-harbour-lantern-1987"
CHOSEN = "quiet-meadow-orchard-2040"
LOGIN = "/accounts/login/"


def _reset(client: Client, target: User, **fields: str):
    data = {
        "temporary_password": TEMPORARY,
        "temporary_password_again": TEMPORARY,
        "reason": "forgot it after the holidays",
        **fields,
    }
    return client.post(reverse("accounts:staff_password_reset", args=[target.pk]), data)


def _reset_events(before: int) -> list[AuditEvent]:
    return [
        e
        for e in AuditEvent.objects.order_by("sequence")[before:]
        if e.category == Category.ACCOUNT and e.detail.get("event") == "password reset"
    ]


def test_a_clinic_admin_resets_a_password_audited_with_the_reason_not_the_password(
    client_for, users
):
    nurse, admin = users[Role.NURSE], users[Role.CLINIC_ADMIN]
    nurse_session = client_for(Role.NURSE)
    assert nurse_session.get(reverse("accounts:ping")).status_code == 200
    before = AuditEvent.objects.count()

    response = _reset(client_for(Role.CLINIC_ADMIN), nurse)

    assert response.status_code == 302
    nurse.refresh_from_db()
    assert nurse.check_password(TEMPORARY) and nurse.password_must_change
    (event,) = _reset_events(before)
    assert event.actor == admin and event.object_id == str(nurse.pk)
    assert event.detail["reason"] == "forgot it after the holidays"
    for e in AuditEvent.objects.order_by("sequence")[before:]:
        assert TEMPORARY not in json.dumps(e.detail) + " ".join(map(str, vars(e).values()))
    # The nurse's open session has ended (Django ties it to the password hash).
    assert nurse_session.get(reverse("accounts:ping")).status_code == 302


def test_the_temporary_password_opens_only_the_page_that_replaces_it(client_for, users):
    nurse = users[Role.NURSE]
    assert _reset(client_for(Role.CLINIC_ADMIN), nurse).status_code == 302
    client = Client()
    assert (
        client.post(LOGIN, {"username": nurse.username, "password": TEMPORARY}).status_code == 302
    )
    for path in (reverse("patients:search"), "/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == reverse(
            "accounts:password_change"
        ), path
    page = client.get(reverse("accounts:password_change"))
    assert b"Your password was reset" in page.content
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": TEMPORARY, "new_password1": CHOSEN, "new_password2": CHOSEN},
    )
    assert response.status_code == 302
    nurse.refresh_from_db()
    assert not nurse.password_must_change and nurse.check_password(CHOSEN)
    assert client.get(reverse("patients:search")).status_code == 200


def test_a_reset_lifts_the_log_in_lock_out(client_for, users, settings):
    nurse = users[Role.NURSE]
    attacker = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attacker.post(LOGIN, {"username": nurse.username, "password": "wrong-password-123"})
    assert (
        attacker.post(LOGIN, {"username": nurse.username, "password": PASSWORD}).status_code == 429
    )
    assert _reset(client_for(Role.CLINIC_ADMIN), nurse).status_code == 302
    response = attacker.post(LOGIN, {"username": nurse.username, "password": TEMPORARY})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"temporary_password": "short", "temporary_password_again": "short"},
            "temporary_password",
            "too short",
        ),
        ({"temporary_password_again": TEMPORARY + "x"}, "temporary_password_again", "differ"),
        ({"reason": "   "}, "reason", "required"),
    ],
    ids=["weak", "mismatch", "no-reason"],
)
def test_a_bad_reset_names_the_field_and_changes_nothing(client_for, users, fields, field, message):
    nurse = users[Role.NURSE]
    before = AuditEvent.objects.count()
    response = _reset(client_for(Role.CLINIC_ADMIN), nurse, **fields)
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get(field, []))
    assert message in errors.lower(), response.context["form"].errors
    nurse.refresh_from_db()
    assert nurse.check_password(PASSWORD) and not nurse.password_must_change
    assert _reset_events(before) == []


@pytest.mark.parametrize("role", [Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.BILLING])
def test_only_a_clinic_admin_opens_the_reset_page(client_for, users, role):
    target = users[Role.NURSE if role != Role.NURSE else Role.PHYSICIAN]
    response = _reset(client_for(role), target)
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.check_password(PASSWORD)


def test_nobody_resets_their_own_password_and_the_refusal_is_audited(client_for, users):
    admin = users[Role.CLINIC_ADMIN]
    before = AuditEvent.objects.count()
    assert _reset(client_for(Role.CLINIC_ADMIN), admin).status_code == 403
    admin.refresh_from_db()
    assert admin.check_password(PASSWORD) and not admin.password_must_change
    denied = AuditEvent.objects.order_by("sequence")[before:]
    assert any(e.outcome == Outcome.DENIED and e.category == Category.ACCOUNT for e in denied)


def test_the_staff_list_offers_a_reset_for_colleagues_only(client_for, users):
    page = client_for(Role.CLINIC_ADMIN).get(reverse("accounts:staff_list")).content.decode()
    assert reverse("accounts:staff_password_reset", args=[users[Role.NURSE].pk]) in page
    assert reverse("accounts:staff_password_reset", args=[users[Role.CLINIC_ADMIN].pk]) not in page
    assert users[Role.SYSTEM].username not in page


def test_the_system_account_has_no_password_to_reset(users):
    from painclinic.web.lib.service import Refused

    with pytest.raises(Refused) as refused:
        do_reset_password(actor_as(users[Role.CLINIC_ADMIN]), users[Role.SYSTEM], TEMPORARY, "test")
    assert refused.value.field == "username"


# --- the server operator's commands -----------------------------------------------------------


def test_the_operator_creates_the_first_clinic_admin_audited(db):
    before = AuditEvent.objects.count()
    result = CliRunner().invoke(
        app,
        [
            "accounts",
            "create-admin",
            "ahmed.haddad",
            "--first-name",
            "Ahmed",
            "--last-name",
            "Haddad",
            "--password-stdin",
        ],
        input=CHOSEN + "\n",
    )
    assert result.exit_code == 0, result.output
    user = User.objects.get(username="ahmed.haddad")
    assert user.role == Role.CLINIC_ADMIN and user.check_password(CHOSEN)
    (event,) = [
        e for e in AuditEvent.objects.order_by("sequence")[before:] if e.action == Action.CREATE
    ]
    assert event.channel == "cli" and "create-admin" in event.origin
    assert event.actor.role == Role.SYSTEM
    assert CHOSEN not in json.dumps(event.detail)


def test_the_operator_cannot_create_an_admin_with_a_weak_password(db):
    result = CliRunner().invoke(
        app,
        [
            "accounts",
            "create-admin",
            "weak.admin",
            "--first-name",
            "W",
            "--last-name",
            "A",
            "--password-stdin",
        ],
        input="password\n",
    )
    assert result.exit_code == 1
    assert "password" in result.output and "nothing changed" in result.output
    assert not User.objects.filter(username="weak.admin").exists()


def test_the_operator_resets_a_locked_out_admins_password_audited(users):
    admin = users[Role.CLINIC_ADMIN]
    before = AuditEvent.objects.count()
    result = CliRunner().invoke(
        app,
        [
            "accounts",
            "reset-password",
            admin.username,
            "--reason",
            "lost phone and password",
            "--password-stdin",
        ],
        input=TEMPORARY + "\n",
    )
    assert result.exit_code == 0, result.output
    admin.refresh_from_db()
    assert admin.check_password(TEMPORARY) and admin.password_must_change
    (event,) = _reset_events(before)
    assert event.channel == "cli" and event.detail["reason"] == "lost phone and password"


def test_the_operator_reset_names_an_unknown_username(db):
    result = CliRunner().invoke(
        app,
        ["accounts", "reset-password", "nobody", "--reason", "x", "--password-stdin"],
        input=TEMPORARY + "\n",
    )
    assert result.exit_code == 1 and "no staff account is called 'nobody'" in result.output


@pytest.mark.parametrize("command", ["changepassword", "createsuperuser"])
def test_djangos_unaudited_account_commands_are_refused(db, command):
    result = CliRunner().invoke(app, ["manage", command, "someone"])
    assert result.exit_code == 1
    assert "without an audit event" in result.output and "painclinic accounts" in result.output
