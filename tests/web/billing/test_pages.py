"""The billing pages as a clerk uses them: issue, pay in parts, credit, close the day.

Each action is posted through its page; a refused entry (bad input or a money rule) shows its
message on the field, saves nothing and keeps what was typed.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role, User
from painclinic.web.audit.models import AuditEvent
from painclinic.web.billing.models import (
    Coverage,
    DailyClose,
    Invoice,
    Payer,
    PayerKind,
    Payment,
    PaymentMethod,
)
from painclinic.web.billing.services import (
    CoverageInput,
    PayerInput,
    PaymentInput,
    balance_of,
    do_add_coverage,
    do_add_payer,
    do_issue_session_invoice,
    do_record_deposit,
    do_record_payment,
)
from painclinic.web.lib.clinicdate import clinic_today
from tests.conftest import actor_as
from tests.web.billing.factories import signed_sessions, standard_fees
from tests.web.test_page_wording import FIELD_NAME, MODULE, RULE_ID, visible_text

pytestmark = pytest.mark.django_db

P, N, F, B, A = Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.BILLING, Role.CLINIC_ADMIN
# standard_fees: a session is KET-SESSION $450.00 + SUPPLIES $25.50, the plan's first invoice
# adds PLAN $250.00 (all HST-exempt); REPORT $150.00 is taxable.
FIRST_INVOICE = 45_000 + 2_550 + 25_000


@pytest.fixture
def sessions(users, patient):
    standard_fees(actor_as(users[A]))
    return signed_sessions(patient, users[P], users[F], count=2)


def account_url(patient) -> str:
    return reverse("billing:patient", kwargs={"patient_id": patient.pk})


def invoice_url(invoice) -> str:
    return reverse("billing:invoice", kwargs={"invoice_id": invoice.pk})


def money_events() -> int:
    return AuditEvent.objects.filter(category="billing", action="create", outcome="success").count()


def test_issue_then_pay_in_two_parts_through_the_pages(client_for, patient, sessions):
    clerk = client_for(B)
    page = clerk.get(account_url(patient)).content.decode()
    assert "Ketamine infusion, session 1" in page and "Ketamine infusion, session 2" in page
    response = clerk.post(
        account_url(patient),
        {"action": "issue_sessions", "issue_sessions-session_ids": [str(sessions[0].pk)]},
    )
    invoice = Invoice.objects.get()
    assert response.status_code == 302 and response["Location"] == invoice_url(invoice)
    assert invoice.total_cents == FIRST_INVOICE

    page = clerk.get(invoice_url(invoice)).content.decode()
    assert invoice.display_number in page and "$725.50" in page
    # The payment's amount starts at the balance.
    assert re.search(r'name="pay-amount_cents"[^>]*value="725.50"', page)

    response = clerk.post(
        invoice_url(invoice),
        {"action": "pay", "pay-amount_cents": "$300.00", "pay-method": "debit"},
        follow=True,
    )
    assert "Payment of $300.00 recorded; $425.50 still owed." in response.content.decode()
    assert balance_of(invoice).balance_cents == 42_550
    assert re.search(r'name="pay-amount_cents"[^>]*value="425.50"', response.content.decode())

    response = clerk.post(
        invoice_url(invoice),
        {"action": "pay", "pay-amount_cents": "425.50", "pay-method": "cash"},
        follow=True,
    )
    page = response.content.decode()
    assert "paid in full" in page
    assert balance_of(invoice).balance_cents == 0
    assert 'name="pay-amount_cents"' not in page  # nothing left to pay
    assert [p.amount_cents for p in Payment.objects.order_by("pk")] == [30_000, 42_550]

    # The day's summary shows both, by method, and expects the cash in the drawer.
    day = clerk.get(reverse("billing:day", kwargs={"day": clinic_today()})).content.decode()
    assert "Debit card" in day and "$300.00" in day and "$425.50" in day
    assert "$725.50" in day  # received in all


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("abc", "Enter an amount in dollars"),
        ("12.345", "at most two decimals"),
        ("-5", "cannot be negative"),
        ("0", "more than $0.00"),
        ("800.00", "more than the balance of $725.50"),  # the service's rule, on the field
    ],
)
def test_a_bad_payment_shows_on_the_amount_saves_nothing_and_keeps_the_entry(
    client_for, patient, sessions, users, amount, message
):
    invoice = do_issue_session_invoice(
        actor_as(users[B]), patient.pk, [sessions[0].pk]
    ).patient_invoice
    before = money_events()
    response = client_for(B).post(
        invoice_url(invoice),
        {"action": "pay", "pay-amount_cents": amount, "pay-method": "cheque", "pay-reference": ""}
        if amount == "800.00"
        else {"action": "pay", "pay-amount_cents": amount, "pay-method": "cash"},
    )
    assert response.status_code == 200
    form = response.context["forms"]["pay"]
    if amount == "800.00":
        # A cheque needs its number first: the reference is refused before the amount.
        assert "Enter the cheque number." in form.errors["reference"]
        response = client_for(B).post(
            invoice_url(invoice),
            {"action": "pay", "pay-amount_cents": amount, "pay-method": "cash"},
        )
        form = response.context["forms"]["pay"]
    assert any(message in error for error in form.errors["amount_cents"]), form.errors
    assert f'value="{amount}"' in response.content.decode()  # what was typed stays
    assert not Payment.objects.exists()
    assert money_events() == before


def test_issuing_nothing_is_refused_on_the_sessions_field(client_for, patient, sessions):
    response = client_for(B).post(account_url(patient), {"action": "issue_sessions"})
    assert (
        "Choose at least one session to invoice."
        in (response.context["forms"]["issue_sessions"].errors["session_ids"])
    )
    assert not Invoice.objects.exists()


def test_a_coverage_refused_by_the_rules_names_its_field(client_for, patient, users):
    payer = do_add_payer(actor_as(users[B]), PayerInput(name="WSIB Ontario", kind=PayerKind.WSIB))
    response = client_for(B).post(
        account_url(patient),
        {
            "action": "add_coverage",
            "add_coverage-payer_id": str(payer.pk),
            "add_coverage-payer_share_basis_points": "100",
        },
    )
    form = response.context["forms"]["add_coverage"]
    assert form.errors["claim_number"] == ["WSIB needs the claim number."]
    assert not Coverage.objects.exists()
    response = client_for(B).post(
        account_url(patient),
        {
            "action": "add_coverage",
            "add_coverage-payer_id": str(payer.pk),
            "add_coverage-payer_share_basis_points": "62.5",
            "add_coverage-claim_number": "W-1234",
        },
    )
    assert response.status_code == 302
    assert Coverage.objects.get().payer_share_basis_points == 6_250


def test_split_billing_and_the_payer_shortfall_through_the_pages(
    client_for, patient, sessions, users
):
    clerk = client_for(B)
    payer = do_add_payer(
        actor_as(users[B]), PayerInput(name="Acme Life", kind=PayerKind.PRIVATE_PLAN)
    )
    clerk.post(
        account_url(patient),
        {
            "action": "add_coverage",
            "add_coverage-payer_id": str(payer.pk),
            "add_coverage-payer_share_basis_points": "80",
            "add_coverage-member_id": "M-77",
        },
    )
    coverage = Coverage.objects.get()
    clerk.post(
        account_url(patient),
        {
            "action": "issue_sessions",
            "issue_sessions-session_ids": [str(sessions[0].pk)],
            "issue_sessions-coverage_id": str(coverage.pk),
        },
    )
    payer_invoice = Invoice.objects.get(coverage=coverage)
    patient_invoice = Invoice.objects.get(coverage__isnull=True)
    assert payer_invoice.total_cents + patient_invoice.total_cents == FIRST_INVOICE
    page = clerk.get(invoice_url(payer_invoice)).content.decode()
    assert (
        "Acme Life" in page and "Member ID: M-77" in page and patient_invoice.display_number in page
    )
    # The insurer pays part; the rest passes to the patient.
    clerk.post(
        invoice_url(payer_invoice),
        {"action": "pay", "pay-amount_cents": "500.00", "pay-method": "insurer"},
    )
    response = clerk.post(
        invoice_url(payer_invoice), {"action": "transfer", "transfer-reason": "Plan maximum"}
    )
    shortfall = Invoice.objects.filter(kind="invoice", coverage__isnull=True).order_by("-number")[0]
    assert response["Location"] == invoice_url(shortfall)
    assert shortfall.total_cents == payer_invoice.total_cents - 50_000
    assert balance_of(payer_invoice).balance_cents == 0


def test_a_partial_credit_note_through_the_invoice_page(client_for, patient, sessions, users):
    invoice = do_issue_session_invoice(
        actor_as(users[B]), patient.pk, [sessions[0].pk]
    ).patient_invoice
    clerk = client_for(B)
    response = clerk.post(
        invoice_url(invoice),
        {
            "action": "credit",
            "credit-full": "amount",
            "credit-amount_cents": "",
            "credit-reason": "Discount",
        },
    )
    assert response.context["forms"]["credit"].errors["amount_cents"] == [
        "Enter the amount to credit."
    ]
    clerk.post(
        invoice_url(invoice),
        {
            "action": "credit",
            "credit-full": "amount",
            "credit-amount_cents": "25.50",
            "credit-reason": "Discount",
        },
    )
    credit = Invoice.objects.get(kind="credit_note")
    assert credit.total_cents == 2_550 and credit.credits_id == invoice.pk
    assert balance_of(invoice).balance_cents == FIRST_INVOICE - 2_550
    page = clerk.get(invoice_url(credit)).content.decode()
    assert invoice.display_number in page and "Discount" in page


def test_the_day_closes_once_and_then_shows_the_close(client_for, patient, sessions, users):
    invoice = do_issue_session_invoice(
        actor_as(users[B]), patient.pk, [sessions[0].pk]
    ).patient_invoice
    clerk = client_for(B)
    clerk.post(
        invoice_url(invoice), {"action": "pay", "pay-amount_cents": "100.00", "pay-method": "cash"}
    )
    day_url = reverse("billing:day", kwargs={"day": clinic_today()})
    response = clerk.post(day_url, {"counted_cash_cents": "90.00", "note": ""})
    assert "say why in the note" in " ".join(response.context["form"].errors["note"])
    assert 'value="90.00"' in response.content.decode()
    assert not DailyClose.objects.exists()
    response = clerk.post(
        day_url, {"counted_cash_cents": "90.00", "note": "Ten short"}, follow=True
    )
    close = DailyClose.objects.get()
    assert close.difference_cents == -1_000
    page = response.content.decode()
    assert "Closed by" in page and "-$10.00" in page and 'name="counted_cash_cents"' not in page
    # A closed day takes no more payments: the refusal lands on the form, nothing saved.
    response = clerk.post(
        invoice_url(invoice), {"action": "pay", "pay-amount_cents": "1.00", "pay-method": "cash"}
    )
    assert "is closed" in str(response.context["forms"]["pay"].non_field_errors())
    assert Payment.objects.count() == 1


def test_payers_page_adds_a_payer(client_for, users):
    clerk = client_for(B)
    response = clerk.post(reverse("billing:payers"), {"name": "", "kind": "wsib"})
    assert "name" in response.context["form"].errors and not Payer.objects.exists()
    response = clerk.post(reverse("billing:payers"), {"name": "WSIB", "kind": "wsib"}, follow=True)
    assert Payer.objects.get().name == "WSIB" and "WSIB" in response.content.decode()


def test_the_worklist_lists_sessions_to_invoice_and_overdue_invoices(
    client_for, patient, sessions, users
):
    invoice = do_issue_session_invoice(
        actor_as(users[B]), patient.pk, [sessions[0].pk]
    ).patient_invoice
    later = timezone.now() + dt.timedelta(days=settings.INVOICE_DUE_DAYS + 3)
    with time_machine.travel(later, tick=False):
        page = client_for(B).get(reverse("billing:home")).content.decode()
    assert account_url(patient) in page
    assert "Ketamine infusion, session 2" in page  # still to invoice
    assert "Ketamine infusion, session 1" not in page  # invoiced
    assert invoice.display_number in page and "$725.50" in page  # overdue with its balance


def test_the_invoice_page_shows_labels_not_internal_codes(client_for, patient, sessions, users):
    invoice = do_issue_session_invoice(
        actor_as(users[B]), patient.pk, [sessions[0].pk]
    ).patient_invoice
    text = visible_text(client_for(B).get(invoice_url(invoice)).content.decode())
    for pattern in (RULE_ID, MODULE, FIELD_NAME):
        assert pattern.findall(text) == []
    for code in ("exempt_health", "KET-SESSION", "SUPPLIES", "credit_card", "per_session"):
        assert code not in text
    assert "Health service, HST-exempt" in text
    assert invoice.issued_on.isoformat() in text  # dates YYYY-MM-DD


def test_reports_page_shows_the_aged_receivables_and_downloads_csv(
    client_for, patient, sessions, users
):
    do_issue_session_invoice(actor_as(users[B]), patient.pk, [sessions[0].pk])
    clerk = client_for(B)
    page = clerk.get(reverse("billing:reports")).content.decode()
    assert "0–30 days" in page and "$725.50" in page
    response = clerk.get(reverse("billing:reports") + "?download=aged")
    assert response["Content-Type"].startswith("text/csv")
    assert "725.50" in response.content.decode()
    response = clerk.get(reverse("billing:day", kwargs={"day": clinic_today()}) + "?download=csv")
    assert response["Content-Type"].startswith("text/csv")


def test_a_taxable_report_invoiced_by_hand_shows_its_hst(client_for, patient, sessions):
    clerk = client_for(B)
    response = clerk.post(
        account_url(patient),
        {"action": "issue_manual", "issue_manual-fee_code": "REPORT", "issue_manual-quantity": "1"},
    )
    invoice = Invoice.objects.get()
    assert response["Location"] == invoice_url(invoice)
    assert (invoice.subtotal_cents, invoice.tax_cents, invoice.total_cents) == (
        15_000,
        1_950,
        16_950,
    )
    text = visible_text(clerk.get(invoice_url(invoice)).content.decode())
    assert "Not a health service, HST applies" in text and "$19.50" in text and "$169.50" in text


def test_a_deposit_is_applied_then_refunded_and_a_payment_reversed(client_for, patient, sessions):
    clerk = client_for(B)
    plan = sessions[0].plan
    clerk.post(
        account_url(patient),
        {
            "action": "deposit",
            "deposit-plan_id": str(plan.pk),
            "deposit-amount_cents": "1000.00",
            "deposit-method": "credit_card",
        },
    )
    deposit = Payment.objects.get()
    assert deposit.kind == "deposit" and deposit.amount_cents == 100_000
    clerk.post(
        account_url(patient),
        {"action": "issue_sessions", "issue_sessions-session_ids": [str(sessions[0].pk)]},
    )
    invoice = Invoice.objects.get()
    assert balance_of(invoice).balance_cents == 0  # the deposit paid it
    page = clerk.get(account_url(patient)).content.decode()
    assert "$274.50" in page  # left on account: $1,000.00 - $725.50
    # A refund larger than what is left is refused on the amount; nothing saved.
    response = clerk.post(
        account_url(patient),
        {
            "action": "refund",
            "refund-payment_id": str(deposit.pk),
            "refund-amount_cents": "300.00",
            "refund-method": "credit_card",
            "refund-reason": "Series stopped",
        },
    )
    assert "At most $274.50" in " ".join(response.context["forms"]["refund"].errors["amount_cents"])
    assert not deposit.refunds.exists()
    response = clerk.post(
        account_url(patient),
        {
            "action": "refund",
            "refund-payment_id": str(deposit.pk),
            "refund-amount_cents": "274.50",
            "refund-method": "credit_card",
            "refund-reason": "Series stopped",
        },
    )
    assert response.status_code == 302 and deposit.refunds.get().amount_cents == 27_450
    # A payment entered in error on another invoice is reversed, with its reason.
    other = do_issue_session_invoice(
        actor_as(User.objects.get(role=B)), patient.pk, [sessions[1].pk]
    ).patient_invoice
    clerk.post(
        invoice_url(other), {"action": "pay", "pay-amount_cents": "10.00", "pay-method": "cash"}
    )
    mistaken = Payment.objects.get(kind="payment")
    response = clerk.post(
        account_url(patient),
        {"action": "reverse", "reverse-payment_id": str(mistaken.pk), "reverse-reason": ""},
    )
    assert "reason" in response.context["forms"]["reverse"].errors
    clerk.post(
        account_url(patient),
        {"action": "reverse", "reverse-payment_id": str(mistaken.pk), "reverse-reason": "Typo"},
    )
    assert Payment.objects.get(kind="reversal").amount_cents == -1_000
    assert balance_of(other).balance_cents == other.total_cents
    day = clerk.get(reverse("billing:day", kwargs={"day": clinic_today()})).content.decode()
    assert "Typo" in day  # listed as an adjustment of the day


def test_the_invoice_and_day_pages_read_a_fixed_number_of_queries(client_for, patient, sessions):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    clerk = client_for(B)
    clerk.post(
        account_url(patient),
        {"action": "issue_sessions", "issue_sessions-session_ids": [str(sessions[0].pk)]},
    )
    invoice = Invoice.objects.get()
    day_url = reverse("billing:day", kwargs={"day": clinic_today()})

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert clerk.get(url).status_code == 200
        return len(captured)

    clerk.post(
        invoice_url(invoice), {"action": "pay", "pay-amount_cents": "1.00", "pay-method": "cash"}
    )
    one = queries(invoice_url(invoice)), queries(day_url)
    for _ in range(4):
        clerk.post(
            invoice_url(invoice),
            {"action": "pay", "pay-amount_cents": "1.00", "pay-method": "debit"},
        )
    assert (queries(invoice_url(invoice)), queries(day_url)) == one


def test_paying_an_invoice_paid_a_moment_ago_records_nothing_and_says_so(
    client_for, patient, sessions
):
    clerk, other_clerk = client_for(B), client_for(B)
    clerk.post(
        account_url(patient),
        {"action": "issue_sessions", "issue_sessions-session_ids": [str(sessions[0].pk)]},
    )
    invoice = Invoice.objects.get()
    pay = {"action": "pay", "pay-amount_cents": "725.50", "pay-method": "cash"}
    assert clerk.post(invoice_url(invoice), pay).status_code == 302
    response = other_clerk.post(invoice_url(invoice), pay, follow=True)
    assert "has changed: nothing was recorded" in response.content.decode()
    assert Payment.objects.count() == 1


def test_the_credit_on_account_matches_the_services_reading(client_for, patient, sessions, users):
    from painclinic.web.billing.services import (
        PaymentInput,
        do_record_deposit,
        patient_credit_cents,
    )

    clerk = actor_as(users[B])
    plan = sessions[0].plan
    for cents in (10_000, 20_000):
        do_record_deposit(clerk, plan.pk, PaymentInput(amount_cents=cents, method="cash"))
    do_issue_session_invoice(clerk, patient.pk, [sessions[0].pk])  # takes $300.00 of it
    page = client_for(B).get(account_url(patient))
    assert patient_credit_cents(patient) == 0
    assert page.context["account"].credit_cents == 0
    do_record_deposit(clerk, plan.pk, PaymentInput(amount_cents=12_345, method="cash"))
    page = client_for(B).get(account_url(patient))
    assert page.context["account"].credit_cents == patient_credit_cents(patient) == 12_345
    assert "$123.45" in page.content.decode()


def test_the_statement_says_who_owes_what_and_the_credit_on_account(
    client_for, patient, sessions, users
):
    clerk = client_for(B)
    payer = do_add_payer(
        actor_as(users[B]), PayerInput(name="Acme Life", kind=PayerKind.PRIVATE_PLAN)
    )
    coverage = do_add_coverage(
        actor_as(users[B]),
        patient.pk,
        CoverageInput(payer_id=payer.pk, payer_share_basis_points=8000, member_id="M-1"),
    )
    result = do_issue_session_invoice(
        actor_as(users[B]), patient.pk, [sessions[0].pk], coverage_id=coverage.pk
    )
    do_record_payment(
        actor_as(users[B]),
        result.patient_invoice.pk,
        PaymentInput(amount_cents=1_000, method=PaymentMethod.CASH),
    )
    do_record_deposit(
        actor_as(users[B]),
        sessions[1].plan_id,
        PaymentInput(amount_cents=5_000, method=PaymentMethod.DEBIT),
    )
    page = clerk.get(reverse("billing:statement", kwargs={"patient_id": patient.pk}))
    assert page.status_code == 200
    text = page.content.decode()
    patient_owes = result.patient_invoice.total_cents - 1_000
    payer_owes = result.payer_invoice.total_cents

    def dollars_text(cents: int) -> str:
        return f"${cents // 100:,}.{cents % 100:02d}"

    owed = text.split("<h2>Owed</h2>")[1].split("</section>")[0]
    assert dollars_text(patient_owes) in owed
    assert dollars_text(payer_owes) in owed
    assert "$50.00" in owed  # the deposit, not yet applied
    assert result.payer_invoice.display_number in text
    assert "Acme Life" in text
