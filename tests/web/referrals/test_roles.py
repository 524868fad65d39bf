"""Referral pages × every role: the front desk and the physicians triage; everyone else is
refused (403 by the role gate); the public forms need no sign-in."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.referrals.models import Referral

pytestmark = pytest.mark.django_db

P, N, F, B, A, T = (
    Role.PHYSICIAN,
    Role.NURSE,
    Role.FRONT_DESK,
    Role.BILLING,
    Role.CLINIC_ADMIN,
    Role.PATIENT,
)
# Read by tests/web/test_access_matrix.py (every URL in some matrix) and the world crawls.
URL_MATRIX: dict[str, set[Role]] = {
    "referrals:queue": {P, F},
    "referrals:detail": {P, F},
    # 404 for a referral without a letter (served with one in test_triage.py).
    "referrals:letter": {P, F},
}
LETTER = "referrals:letter"
PUBLIC_NAMES = (
    "referrals:physician_form",
    "referrals:self_form",
    "referrals:physician_thanks",
    "referrals:self_thanks",
)


@pytest.fixture
def referral() -> Referral:
    return Referral.objects.create(
        kind="self",
        given_name="Luc",
        family_name="Gagnon",
        date_of_birth=dt.date(1975, 11, 2),
        condition="phn",
        submitted_at=timezone.now(),
    )


def url(name: str, referral: Referral) -> str:
    if name in ("referrals:detail", LETTER):
        return reverse(name, args=[referral.pk])
    return reverse(name)


@pytest.mark.parametrize("role", [r for r in Role if r != Role.SYSTEM], ids=lambda r: r.value)
def test_each_page_opens_for_exactly_the_front_desk_and_the_physicians(role, referral, client_for):
    client = client_for(role)
    for name, allowed in URL_MATRIX.items():
        if name == LETTER:
            continue
        response = client.get(url(name, referral))
        assert response.status_code == (200 if role in allowed else 403), (name, role)
    letter = client.get(url(LETTER, referral))
    assert letter.status_code == (404 if role in (P, F) else 403), role
    for name in PUBLIC_NAMES:
        assert client.get(url(name, referral)).status_code == 200, (name, role)


def test_anonymous_visitors_reach_the_forms_and_only_the_forms(client, referral):
    for name in PUBLIC_NAMES:
        assert client.get(url(name, referral)).status_code == 200, name
    for name in URL_MATRIX:
        response = client.get(url(name, referral))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("accounts:login")), name


def test_an_unknown_referral_is_an_audited_404(client_for):
    from painclinic.web.audit.models import Action, AuditEvent

    response = client_for(F).get(reverse("referrals:detail", args=[999999]))
    assert response.status_code == 404
    event = AuditEvent.objects.order_by("-sequence").first()
    assert event.action == Action.ACCESS_DENIED and event.detail["object_type"] == "referral"
