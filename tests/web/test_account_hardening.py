"""Accounts: usernames from a safe character set, and a password change on the audit trail."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from painclinic.web.accounts.models import Role, User
from painclinic.web.accounts.services import StaffAccount, do_create_staff
from painclinic.web.audit.models import Action, AuditEvent, Category
from painclinic.web.lib.service import Refused
from tests.conftest import PASSWORD, actor_as

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase-for-2026"

UNSAFE_USERNAMES = [
    '=HYPERLINK("http://evil.example","x")',
    "+cmd",
    "-dash-first",
    "@at-first",
    "<script>alert(1)</script>",
    "dr okafor",
    "o'hara",
    "nurse;drop",
    "zoë",
    "ｆｕｌｌｗｉｄｔｈ",
    "tab\tname",
    "",
]
SAFE_USERNAMES = ["dr.okafor", "rn_new_hire", "fd-chen2", "bill@clinic.example", "A1"]


def staff_form(username: str) -> dict[str, str]:
    return {
        "username": username,
        "first_name": "New",
        "last_name": "Person",
        "email": "",
        "role": Role.NURSE,
        "registration_number": "",
        "password": "a-long-enough-password-77",
    }


def account(username: str) -> StaffAccount:
    return StaffAccount(
        username=username,
        first_name="New",
        last_name="Person",
        role=Role.NURSE,
        password="a-long-enough-password-77",
    )


@pytest.mark.parametrize("username", UNSAFE_USERNAMES)
def test_staff_creation_refuses_a_username_outside_the_safe_set(username, client_for, users):
    before = User.objects.count()
    response = client_for(Role.CLINIC_ADMIN).post(
        reverse("accounts:staff_create"), staff_form(username)
    )
    assert response.status_code == 200
    assert response.context["form"].errors.get("username"), response.context["form"].errors
    with pytest.raises(Refused) as refused:
        do_create_staff(actor_as(users[Role.CLINIC_ADMIN]), account(username))
    assert refused.value.field == "username"
    assert User.objects.count() == before


def test_the_username_message_names_the_allowed_characters(client_for):
    response = client_for(Role.CLINIC_ADMIN).post(
        reverse("accounts:staff_create"), staff_form("o'hara")
    )
    message = " ".join(response.context["form"].errors["username"])
    assert "letters, digits" in message and "@" in message


@pytest.mark.parametrize("username", SAFE_USERNAMES)
def test_staff_creation_accepts_a_safe_username(username, client_for, users):
    response = client_for(Role.CLINIC_ADMIN).post(
        reverse("accounts:staff_create"), staff_form(username)
    )
    assert response.status_code == 302, response.context["form"].errors
    assert User.objects.filter(username=username, role=Role.NURSE).exists()


def test_a_password_change_is_audited_without_the_password(client_for, users):
    nurse = users[Role.NURSE]
    client = client_for(Role.NURSE)
    before = AuditEvent.objects.count()
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert User.objects.get(pk=nurse.pk).check_password(NEW_PASSWORD)
    events = list(AuditEvent.objects.order_by("sequence")[before:])
    changed = [
        e
        for e in events
        if e.category == Category.ACCOUNT
        and e.action == Action.UPDATE
        and e.detail.get("event") == "password changed"
    ]
    assert len(changed) == 1
    event = changed[0]
    assert event.actor == nurse and event.object_id == str(nurse.pk)
    assert event.channel == "web" and event.origin == reverse("accounts:password_change")
    for e in events:
        text = json.dumps(e.detail) + " ".join(str(v) for v in vars(e).values())
        assert NEW_PASSWORD not in text and PASSWORD not in text
    # The session that changed it stays signed in.
    assert client.get(reverse("accounts:ping")).status_code == 200


def test_a_refused_password_change_writes_no_change_event(client_for):
    before = AuditEvent.objects.filter(action=Action.UPDATE, category=Category.ACCOUNT).count()
    response = client_for(Role.NURSE).post(
        reverse("accounts:password_change"),
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    after = AuditEvent.objects.filter(action=Action.UPDATE, category=Category.ACCOUNT).count()
    assert after == before
