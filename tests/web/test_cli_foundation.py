"""The `painclinic` command's clinic operations: demo data and the Django pass-through."""

from __future__ import annotations

from django.contrib.auth import authenticate
from typer.testing import CliRunner

from painclinic.cli import app
from painclinic.web.accounts.models import Role, User
from painclinic.web.demo.registry import load_demo
from painclinic.web.patients.healthcard import health_number_problem
from painclinic.web.patients.models import Patient


def test_demo_creates_one_user_per_role_and_is_idempotent(db, rf):
    first = load_demo(password="first-password-123", patient_count=12)
    users_after_first = User.objects.count()
    second = load_demo(password="second-password-456", patient_count=12)
    assert User.objects.count() == users_after_first
    assert first.patient_total == second.patient_total == Patient.objects.count()
    for username in ("physician", "nurse", "frontdesk", "billing", "clinicadmin", "patient"):
        assert authenticate(
            rf.post("/accounts/login/"), username=username, password="second-password-456"
        )
    assert {u.role for u in User.objects.all()} == set(Role) - {Role.SYSTEM}
    portal = User.objects.get(username="patient")
    assert Patient.objects.filter(portal_user=portal).count() == 1


def test_demo_patients_have_valid_unique_health_numbers(db):
    load_demo(password="demo-password-1234", patient_count=30)
    numbers = list(Patient.objects.values_list("health_card_number", flat=True))
    assert len(numbers) == len(set(numbers))
    assert all(health_number_problem(n) is None for n in numbers)


def test_manage_passes_through_to_django(db):
    result = CliRunner().invoke(app, ["manage", "check"])
    assert result.exit_code == 0, result.output
