"""Shared personas: one user per role, a few patients, and logged-in clients."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from painclinic.web.accounts.models import Role, User
from painclinic.web.lib.service import Actor, Channel
from painclinic.web.patients.models import (
    Consent,
    ConsentDecision,
    ConsentKind,
    Patient,
    SexAtBirth,
    WeightMeasurement,
)

PASSWORD = "correct-horse-battery-staple-42"

ROLE_USERNAMES = {
    Role.PHYSICIAN: "dr_okafor",
    Role.NURSE: "rn_lindqvist",
    Role.FRONT_DESK: "fd_chen",
    Role.BILLING: "bill_bergeron",
    Role.CLINIC_ADMIN: "admin_haddad",
    Role.PATIENT: "pt_whitfield",
    Role.SYSTEM: "system_jobs",
}


def make_user(role: Role, username: str | None = None) -> User:
    user = User.objects.create_user(
        username=username or ROLE_USERNAMES[role],
        password=PASSWORD,
        role=role,
        first_name=role.label.split()[0],
        last_name="Tester",
    )
    return user


def actor_as(user: User, origin: str = "tests") -> Actor:
    """A direct service call for ``user``, as a command or a worker would make it."""
    return Actor.for_user(user, Channel.CLI, origin)


def make_patient(given: str = "Ada", family: str = "Lovelace", **extra) -> Patient:
    fields = {
        "legal_given_name": given,
        "legal_family_name": family,
        "date_of_birth": dt.date(1970, 5, 17),
        "sex_at_birth": SexAtBirth.FEMALE,
        "phone": "(416) 555-0142",
    }
    fields.update(extra)
    return Patient.objects.create(**fields)


def logged_in_client(user: User, *, verified: bool = True) -> Client:
    client = Client()
    client.force_login(user)
    if verified and user.role == Role.CLINIC_ADMIN:
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


@pytest.fixture(autouse=True)
def _audit_checkpoints_of_this_test(settings, tmp_path):
    """Each test's audit checkpoints go to its own file: the test database starts empty, so
    checkpoints of an earlier test's (or the demo's) chain would name events it never held."""
    settings.AUDIT_CHECKPOINT_FILE = tmp_path / "audit-checkpoints.log"


@pytest.fixture
def users(db) -> dict[Role, User]:
    return {role: make_user(role) for role in Role}


@pytest.fixture
def patient(db, users) -> Patient:
    record = make_patient(health_card_number="9876543217", health_card_version="AB")
    WeightMeasurement.objects.create(
        patient=record,
        weight_kg=Decimal("80.0"),
        height_cm=Decimal("170"),
        measured_on=timezone.localdate(),
        recorded_by=users[Role.NURSE],
        recorded_at=timezone.now(),
    )
    Consent.objects.create(
        patient=record,
        kind=ConsentKind.TREATMENT,
        decision=ConsentDecision.GRANTED,
        decided_on=timezone.localdate(),
        document_version="KET-1",
        witness_name="Witness",
        recorded_by=users[Role.NURSE],
        recorded_at=timezone.now(),
    )
    return record


@pytest.fixture
def own_patient(db, users) -> Patient:
    """The portal user's own record."""
    record = make_patient("Jordan", "Whitfield", portal_user=users[Role.PATIENT])
    Consent.objects.create(
        patient=record,
        kind=ConsentKind.EMAIL,
        decision=ConsentDecision.GRANTED,
        decided_on=timezone.localdate(),
        document_version="EMAIL-1",
        recorded_by=users[Role.FRONT_DESK],
        recorded_at=timezone.now(),
    )
    return record


@pytest.fixture
def client_for(users):
    def build(role: Role, **kwargs) -> Client:
        return logged_in_client(users[role], **kwargs)

    return build


# --- Hypothesis: one profile for every property test --------------------------------------------


def _load_hypothesis_profile() -> None:
    """Property tests run under the ``painclinic`` profile (loaded here, before test modules).

    - ``deadline=None``: examples that write to the database take as long as the disk and the
      machine's load say; a per-example deadline would only make the suite flaky.
    - ``derandomize=True`` when the environment variable ``CI`` is ``"true"``: on CI the
      examples are a fixed function of each test, so a red build is reproducible and a green
      one is not luck (derandomizing also turns off the example database).
    - the ``function_scoped_fixture`` health check is suppressed: database-backed property
      tests run every example inside the test's one transaction, against function-scoped
      fixtures (users, a session) on purpose; each such test accounts for what earlier
      examples wrote.

    A test that needs more or fewer examples says ``@settings(max_examples=...)`` and inherits
    the rest from this profile.
    """
    import os

    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "painclinic",
        deadline=None,
        derandomize=os.environ.get("CI") == "true",
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    settings.load_profile("painclinic")


_load_hypothesis_profile()
