"""Billing pages × every role: billing acts, the clinic admin reads without action forms,
everyone else is refused (403 by the role gate, before any record is read)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from painclinic.web.accounts.models import Role
from painclinic.web.billing.models import Invoice, Payer
from painclinic.web.billing.services import do_issue_session_invoice
from painclinic.web.lib.clinicdate import clinic_today
from tests.conftest import actor_as
from tests.web.billing.factories import signed_sessions, standard_fees

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
    "billing:home": {B, A},
    "billing:patient": {B, A},
    "billing:statement": {B, A},
    "billing:invoice": {B, A},
    "billing:invoice_pdf": {B, A},
    "billing:statement_pdf": {B, A},
    "billing:day": {B, A},
    "billing:reports": {B, A},
    "billing:payers": {B, A},
}
# The marks of an action form on each page (none shows to the clinic admin).
ACTION_MARKS = ('name="action"', 'name="counted_cash_cents"', "Add a payer")


@pytest.fixture
def invoiced(users, patient):
    standard_fees(actor_as(users[A]))
    sessions = signed_sessions(patient, users[P], users[F], count=2)
    result = do_issue_session_invoice(actor_as(users[B]), patient.pk, [sessions[0].pk])
    return result.patient_invoice


def url(name: str, invoice: Invoice) -> str:
    kwargs = {
        "billing:patient": {"patient_id": invoice.patient_id},
        "billing:statement": {"patient_id": invoice.patient_id},
        "billing:invoice": {"invoice_id": invoice.pk},
        "billing:invoice_pdf": {"invoice_id": invoice.pk},
        "billing:statement_pdf": {"patient_id": invoice.patient_id, "year": clinic_today().year},
        "billing:day": {"day": clinic_today()},
    }.get(name, {})
    return reverse(name, kwargs=kwargs)


@pytest.mark.parametrize("role", [r for r in Role if r != Role.SYSTEM], ids=lambda r: r.value)
def test_each_page_opens_for_exactly_billing_and_the_clinic_admin(role, invoiced, client_for):
    client = client_for(role)
    for name, allowed in URL_MATRIX.items():
        response = client.get(url(name, invoiced))
        assert response.status_code == (200 if role in allowed else 403), (name, role)
        if role in allowed and name.endswith("_pdf"):
            assert response["Content-Type"] == "application/pdf"
            assert response["Content-Disposition"].startswith("inline; filename=")
            assert response.content.startswith(b"%PDF")


def test_the_clinic_admin_reads_every_page_without_its_action_forms(invoiced, client_for):
    admin, clerk = client_for(A), client_for(B)
    for name in ("billing:patient", "billing:invoice", "billing:day", "billing:payers"):
        admin_page = admin.get(url(name, invoiced)).content.decode()
        clerk_page = clerk.get(url(name, invoiced)).content.decode()
        assert any(mark in clerk_page for mark in ACTION_MARKS), name
        assert not any(mark in admin_page for mark in ACTION_MARKS), name


def test_the_clinic_admin_cannot_post_an_action(invoiced, client_for):
    admin = client_for(A)
    before = invoiced.allocations.count()
    response = admin.post(
        url("billing:invoice", invoiced),
        {"action": "pay", "pay-amount_cents": "10.00", "pay-method": "cash"},
    )
    assert response.status_code == 403
    assert invoiced.allocations.count() == before
    response = admin.post(reverse("billing:payers"), {"name": "Acme Life", "kind": "private_plan"})
    assert response.status_code == 403 and not Payer.objects.exists()


@pytest.mark.parametrize("role", [P, N, F, T], ids=lambda r: r.value)
def test_other_roles_cannot_post_either(role, invoiced, client_for):
    response = client_for(role).post(
        url("billing:invoice", invoiced),
        {"action": "pay", "pay-amount_cents": "10.00", "pay-method": "cash"},
    )
    assert response.status_code == 403
    assert not invoiced.allocations.exists()


def test_a_patient_page_of_a_patient_that_does_not_exist_is_404(client_for, users):
    response = client_for(B).get(reverse("billing:patient", kwargs={"patient_id": 987654}))
    assert response.status_code == 404
    response = client_for(B).get(reverse("billing:invoice", kwargs={"invoice_id": 987654}))
    assert response.status_code == 404


def test_an_impossible_day_is_404(client_for, users):
    assert client_for(B).get("/billing/days/2026-02-30/").status_code == 404


def test_navigation_offers_billing_to_billing_and_the_clinic_admin_only(client_for, users):
    home = reverse("billing:home")
    for role in (B, A):
        assert f'href="{home}"' in client_for(role).get(reverse("billing:payers")).content.decode()
    for role in (P, N, F):
        page = client_for(role).get(reverse("patients:search")).content.decode()
        assert f'href="{home}"' not in page, role


def test_the_patient_page_links_to_the_account_for_billing_roles(client_for, patient, users):
    account = reverse("billing:patient", kwargs={"patient_id": patient.pk})
    detail = reverse("patients:detail", kwargs={"patient_id": patient.pk})
    for role in (B, A):
        assert account in client_for(role).get(detail).content.decode(), role
    for role in (P, N, F):
        assert account not in client_for(role).get(detail).content.decode(), role
