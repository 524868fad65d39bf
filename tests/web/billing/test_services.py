"""The money rules the billing services keep, checked against hand-computed amounts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Max

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import AuditEvent, Outcome
from painclinic.web.billing.models import (
    Allocation,
    Invoice,
    InvoiceLine,
    PayerKind,
    Payment,
    PaymentMethod,
)
from painclinic.web.billing.services import (
    BillingError,
    CoverageInput,
    CreditInput,
    ManualInvoiceInput,
    ManualLineInput,
    PayerInput,
    PaymentInput,
    RefundInput,
    balance_of,
    billable_sessions,
    day_summary,
    do_add_coverage,
    do_add_payer,
    do_close_day,
    do_issue_credit_note,
    do_issue_manual_invoice,
    do_issue_session_invoice,
    do_record_deposit,
    do_record_payment,
    do_refund,
    do_reverse_payment,
    do_transfer_to_patient,
    unapplied_cents,
)
from painclinic.web.lib.appendonly import AppendOnlyError
from painclinic.web.lib.clinicdate import clinic_today
from painclinic.web.lib.tax import TaxRate, TaxRules, tax_rules
from painclinic.web.scheduling.models import Booking, BookingStatus
from painclinic.web.treatments.models import FeeBasis, TaxCategory
from tests.conftest import actor_as
from tests.web.billing.factories import add_fee, signed_sessions, standard_fees
from tests.web.scheduling.factories import make_booking, make_chair, make_plan

# Fees of standard_fees: a session is KET-SESSION $450.00 + SUPPLIES $25.50; the plan's first
# invoice adds PLAN $250.00. All exempt.
SESSION = 45_000 + 2_550
PLAN = 25_000


@pytest.fixture
def admin(users):
    return actor_as(users[Role.CLINIC_ADMIN])


@pytest.fixture
def clerk(users):
    return actor_as(users[Role.BILLING])


@pytest.fixture
def fees(admin):
    standard_fees(admin)
    add_fee(admin, "FORM", 10_000, FeeBasis.SERVICE, description="Disability form")


def manual(clerk, patient, *codes: str, coverage_id=None):
    return do_issue_manual_invoice(
        clerk,
        patient.pk,
        ManualInvoiceInput(
            lines=tuple(ManualLineInput(fee_code=code) for code in codes), coverage_id=coverage_id
        ),
    )


def form_invoice(clerk, patient) -> Invoice:
    result = manual(clerk, patient, "FORM")
    assert result.patient_invoice is not None
    return result.patient_invoice


def cash(cents: int, method: str = PaymentMethod.CASH, reference: str = "") -> PaymentInput:
    return PaymentInput(amount_cents=cents, method=method, reference=reference)


def owed(invoice: Invoice) -> int:
    return balance_of(invoice).balance_cents


def sessions_of(patient, users, count=2, plan=None):
    return signed_sessions(
        patient, users[Role.PHYSICIAN], users[Role.FRONT_DESK], count=count, plan=plan
    )


# --- tax ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cents", "tax"),
    [(50, 7), (38, 5), (115, 15), (111, 14), (15_000, 1_950), (0, 0)],
    ids=["6.5->7", "4.94->5", "14.95->15", "14.43->14", "150.00", "zero"],
)
def test_line_tax_is_13_percent_rounded_half_up_to_the_cent(cents, tax):
    assert tax_rules().line_tax_cents(cents, TaxCategory.TAXABLE, dt.date(2026, 5, 1)) == tax
    assert tax_rules().line_tax_cents(-cents, TaxCategory.TAXABLE, dt.date(2026, 5, 1)) == -tax


def test_invoice_taxes_each_line_and_adds_the_lines(admin, clerk, patient):
    for code, cents in [("T50", 50), ("T38", 38), ("T115", 115)]:
        add_fee(admin, code, cents, FeeBasis.SERVICE, tax=TaxCategory.TAXABLE)
    add_fee(admin, "EXEMPT", 115, FeeBasis.SERVICE)

    invoice = manual(clerk, patient, "T50", "T38", "T115", "EXEMPT").patient_invoice

    taxes = list(invoice.lines.order_by("position").values_list("tax_cents", flat=True))
    assert taxes == [7, 5, 15, 0]
    # Per line: 7 + 5 + 15 = 27; on the taxable sum (203 x 13 % = 26.39) it would be 26.
    assert invoice.tax_cents == 27
    assert invoice.subtotal_cents == 50 + 38 + 115 + 115
    assert invoice.total_cents == 318 + 27


def test_tax_rate_is_the_one_in_effect_on_the_date():
    rules = TaxRules(
        version="test",
        rounding="half up",
        categories=tax_rules().categories,
        rates=(
            TaxRate("HST", 1300, dt.date(2010, 7, 1), "s"),
            TaxRate("HST", 1500, dt.date(2027, 1, 1), "s"),
        ),
    )
    assert rules.rate_on(dt.date(2026, 12, 31)).percent_basis_points == 1300
    assert rules.rate_on(dt.date(2027, 1, 1)).percent_basis_points == 1500
    assert rules.line_tax_cents(10_000, TaxCategory.TAXABLE, dt.date(2027, 1, 1)) == 1_500
    assert rules.line_tax_cents(10_000, TaxCategory.EXEMPT_HEALTH, dt.date(2027, 1, 1)) == 0
    with pytest.raises(ValueError):
        rules.rate_on(dt.date(2010, 6, 30))
    assert tax_rules().rate_on(dt.date(2026, 11, 26)).percent_basis_points == 1300


def test_insured_fee_item_is_never_invoiced(admin, clerk, patient, fees):
    add_fee(admin, "OHIP-A", 5_000, FeeBasis.SERVICE, tax=TaxCategory.INSURED)
    before = Invoice.objects.count()
    with pytest.raises(BillingError) as refused:
        manual(clerk, patient, "FORM", "OHIP-A")
    assert refused.value.field == "fee_code"
    assert Invoice.objects.count() == before


# --- numbers and double billing -----------------------------------------------------------------


def test_invoice_numbers_have_no_gap_when_an_issue_is_refused_after_taking_a_number(
    admin, clerk, patient, users, fees
):
    add_fee(admin, "LATE", 7_500, FeeBasis.LATE_CANCEL, description="Late cancellation")
    plan = make_plan(patient, users[Role.PHYSICIAN])
    booking = make_booking(
        patient,
        make_chair("Chair late"),
        users[Role.FRONT_DESK],
        clinic_today() - dt.timedelta(days=2),
        plan=plan,
        number=1,
    )
    Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.CANCELLED)
    late = ManualInvoiceInput(lines=(ManualLineInput(fee_code="LATE", booking_id=booking.pk),))

    first = form_invoice(clerk, patient)
    second = do_issue_manual_invoice(clerk, patient.pk, late).patient_invoice
    # Billing the same cancellation again is refused only when its charge is written, after
    # the invoice took a number: the number goes back with the rest.
    with pytest.raises(BillingError, match="already billed"):
        do_issue_manual_invoice(clerk, patient.pk, late)
    third = form_invoice(clerk, patient)

    assert [first.number + 1, first.number + 2] == [second.number, third.number]
    assert Invoice.objects.aggregate(m=Max("number"))["m"] == third.number
    assert Invoice.objects.count() == 3


def test_a_session_billed_twice_is_refused(clerk, patient, users, fees):
    session = sessions_of(patient, users, count=1)[0]
    result = do_issue_session_invoice(clerk, patient.pk, [session.pk])
    assert result.patient_invoice.total_cents == SESSION + PLAN
    with pytest.raises(BillingError) as refused:
        do_issue_session_invoice(clerk, patient.pk, [session.pk])
    assert refused.value.field == "session_ids"
    assert Invoice.objects.count() == 1


def test_full_credit_releases_the_session_and_a_partial_does_not(clerk, patient, users, fees):
    first, second = sessions_of(patient, users, count=2)
    one = do_issue_session_invoice(clerk, patient.pk, [first.pk]).patient_invoice
    two = do_issue_session_invoice(clerk, patient.pk, [second.pk]).patient_invoice

    do_issue_credit_note(
        clerk, two.pk, CreditInput(reason="Discount", full=False, amount_cents=1_000)
    )
    assert second.pk not in {b.session.pk for b in billable_sessions(patient)}
    with pytest.raises(BillingError):
        do_issue_session_invoice(clerk, patient.pk, [second.pk])

    credit = do_issue_credit_note(clerk, one.pk, CreditInput(reason="Wrong fee"))
    assert credit.total_cents == one.total_cents and credit.full_credit
    assert owed(one) == 0
    assert [b.session.pk for b in billable_sessions(patient)] == [first.pk]
    again = do_issue_session_invoice(clerk, patient.pk, [first.pk]).patient_invoice
    # The planning visit's charge was released with it, so it is billed again too.
    assert again.total_cents == SESSION + PLAN


def test_the_sessions_billed_flag_follows_their_live_charges(clerk, patient, users, fees):
    """The worklist reads unbilled sessions by this flag: set on billing, cleared on release."""
    (session,) = sessions_of(patient, users, count=1)
    assert not type(session).objects.get(pk=session.pk).billed
    invoice = do_issue_session_invoice(clerk, patient.pk, [session.pk]).patient_invoice
    assert type(session).objects.get(pk=session.pk).billed
    do_issue_credit_note(
        clerk, invoice.pk, CreditInput(reason="Discount", full=False, amount_cents=100)
    )
    assert type(session).objects.get(pk=session.pk).billed
    do_issue_credit_note(
        clerk, invoice.pk, CreditInput(reason="Wrong", full=False, amount_cents=owed(invoice))
    )
    # A credit by amount of the rest is not a full credit: the session stays billed.
    assert type(session).objects.get(pk=session.pk).billed

    other = sessions_of(patient, users, count=1)[0]
    second = do_issue_session_invoice(clerk, patient.pk, [other.pk]).patient_invoice
    do_issue_credit_note(clerk, second.pk, CreditInput(reason="Wrong fee"))
    assert not type(other).objects.get(pk=other.pk).billed
    assert other.pk in {b.session.pk for b in billable_sessions(patient)}


def test_credit_more_than_is_left_is_refused(clerk, patient, fees):
    invoice = form_invoice(clerk, patient)
    with pytest.raises(BillingError) as refused:
        do_issue_credit_note(
            clerk, invoice.pk, CreditInput(reason="x", full=False, amount_cents=10_001)
        )
    assert refused.value.field == "amount_cents"
    do_issue_credit_note(clerk, invoice.pk, CreditInput(reason="x", full=False, amount_cents=6_000))
    with pytest.raises(BillingError, match=r"\$40\.00"):
        do_issue_credit_note(
            clerk, invoice.pk, CreditInput(reason="x", full=False, amount_cents=4_001)
        )
    with pytest.raises(BillingError):
        do_issue_credit_note(clerk, invoice.pk, CreditInput(reason="x"))  # full after partial
    do_issue_credit_note(clerk, invoice.pk, CreditInput(reason="x", full=False, amount_cents=4_000))
    assert owed(invoice) == 0


# --- payments, refunds, reversals, deposits -----------------------------------------------------


def test_payment_above_the_balance_is_refused_and_partial_then_final_clears_it(
    clerk, patient, fees
):
    invoice = form_invoice(clerk, patient)
    with pytest.raises(BillingError) as refused:
        do_record_payment(clerk, invoice.pk, cash(10_001))
    assert refused.value.field == "amount_cents"
    do_record_payment(clerk, invoice.pk, cash(3_500))
    assert owed(invoice) == 6_500
    do_record_payment(clerk, invoice.pk, cash(6_500, PaymentMethod.DEBIT))
    assert owed(invoice) == 0
    with pytest.raises(BillingError, match="paid in full"):
        do_record_payment(clerk, invoice.pk, cash(1))


def test_refund_only_of_money_not_owed(clerk, patient, fees):
    invoice = form_invoice(clerk, patient)
    payment = do_record_payment(clerk, invoice.pk, cash(10_000))
    refund = RefundInput(amount_cents=2_000, method=PaymentMethod.CASH, reason="Discount")
    with pytest.raises(BillingError, match="still owed") as refused:
        do_refund(clerk, payment.pk, refund)
    assert refused.value.field == "amount_cents"

    do_issue_credit_note(
        clerk, invoice.pk, CreditInput(reason="Discount", full=False, amount_cents=2_000)
    )
    # What the credit made overpaid goes back on account: the invoice owes nothing, the
    # payment has $20.00 unapplied, which is what can be refunded.
    assert owed(invoice) == 0
    assert unapplied_cents(payment) == 2_000
    with pytest.raises(BillingError, match=r"\$20\.00"):
        do_refund(clerk, payment.pk, RefundInput(amount_cents=2_001, method="cash", reason="x"))
    do_refund(clerk, payment.pk, refund)
    assert owed(invoice) == 0
    assert unapplied_cents(payment) == 0
    with pytest.raises(BillingError):
        do_refund(clerk, payment.pk, RefundInput(amount_cents=1, method="cash", reason="again"))


def test_unapplied_deposit_can_be_refunded(clerk, patient, users, fees):
    plan = make_plan(patient, users[Role.PHYSICIAN])
    deposit = do_record_deposit(clerk, plan.pk, cash(20_000))
    do_refund(
        clerk,
        deposit.pk,
        RefundInput(amount_cents=20_000, method=PaymentMethod.CASH, reason="Series cancelled"),
    )
    assert unapplied_cents(deposit) == 0


def test_reversal_restores_the_invoice_balance(clerk, patient, fees):
    invoice = form_invoice(clerk, patient)
    payment = do_record_payment(clerk, invoice.pk, cash(4_000))
    assert owed(invoice) == 6_000
    reversal = do_reverse_payment(clerk, payment.pk, "Entered on the wrong patient")
    assert reversal.amount_cents == -4_000
    assert owed(invoice) == 10_000
    assert unapplied_cents(payment) == 0
    with pytest.raises(BillingError, match="already reversed"):
        do_reverse_payment(clerk, payment.pk, "again")
    assert day_summary(clinic_today()).by_method[PaymentMethod.CASH] == 0


def test_deposit_larger_than_the_first_invoice_pays_the_next(clerk, patient, users, fees):
    first, second = sessions_of(patient, users, count=2)
    deposit = do_record_deposit(clerk, first.plan_id, cash(100_000, PaymentMethod.CREDIT_CARD))

    one = do_issue_session_invoice(clerk, patient.pk, [first.pk])
    two = do_issue_session_invoice(clerk, patient.pk, [second.pk])

    assert one.deposit_applied_cents == SESSION + PLAN == 72_550
    assert owed(one.patient_invoice) == 0
    assert two.deposit_applied_cents == 100_000 - 72_550 == 27_450
    assert owed(two.patient_invoice) == SESSION - 27_450 == 20_100
    assert unapplied_cents(deposit) == 0


def test_split_80_20_and_the_payers_short_payment_passed_to_the_patient(
    clerk, patient, users, fees
):
    payer = do_add_payer(clerk, PayerInput(name="Northern Mutual", kind=PayerKind.PRIVATE_PLAN))
    coverage = do_add_coverage(
        clerk,
        patient.pk,
        CoverageInput(payer_id=payer.pk, payer_share_basis_points=8_000, member_id="M-7"),
    )
    session = sessions_of(patient, users, count=1)[0]
    result = do_issue_session_invoice(clerk, patient.pk, [session.pk], coverage_id=coverage.pk)
    payer_invoice, patient_invoice = result.payer_invoice, result.patient_invoice
    # Per line: 45000 -> 36000 / 9000; 2550 -> 2040 / 510; 25000 -> 20000 / 5000.
    assert payer_invoice.total_cents == 36_000 + 2_040 + 20_000 == 58_040
    assert patient_invoice.total_cents == 9_000 + 510 + 5_000 == 14_510
    assert payer_invoice.bill_to_name == "Northern Mutual"
    assert patient_invoice.split_with_id == payer_invoice.pk

    do_record_payment(clerk, payer_invoice.pk, cash(50_000, PaymentMethod.INSURER))
    moved = do_transfer_to_patient(clerk, payer_invoice.pk, "Plan maximum reached")

    assert owed(payer_invoice) == 0
    shortfall = moved.patient_invoice
    assert shortfall.coverage_id is None and shortfall.total_cents == 8_040
    assert owed(shortfall) == 8_040
    line = shortfall.lines.get()
    assert (
        "Northern Mutual" in line.description and payer_invoice.display_number in line.description
    )
    assert owed(patient_invoice) == 14_510  # the patient's own share is unchanged
    with pytest.raises(BillingError):
        do_transfer_to_patient(clerk, payer_invoice.pk, "again")


def test_an_insurer_payment_is_only_taken_on_a_payers_invoice(clerk, patient, fees):
    invoice = form_invoice(clerk, patient)
    with pytest.raises(BillingError) as refused:
        do_record_payment(clerk, invoice.pk, cash(100, PaymentMethod.INSURER))
    assert refused.value.field == "method"


# --- the daily close ----------------------------------------------------------------------------


def test_daily_close(clerk, patient, users, fees):
    today = clinic_today()
    invoice = form_invoice(clerk, patient)
    do_record_payment(clerk, invoice.pk, cash(3_000))
    do_record_payment(clerk, invoice.pk, cash(2_000, PaymentMethod.DEBIT))

    with pytest.raises(BillingError) as refused:
        do_close_day(clerk, today, 2_900)
    assert refused.value.field == "note"

    close = do_close_day(clerk, today, 2_900, "A $1 coin short")

    assert close.expected_cash_cents == 3_000 and close.difference_cents == -100
    assert close.totals["by_method"] == {"cash": 3_000, "debit": 2_000}
    assert close.totals["by_clerk"] == {users[Role.BILLING].username: 5_000}
    assert close.totals["invoices_count"] == 1 and close.totals["invoiced_cents"] == 10_000
    with pytest.raises(BillingError, match="closed"):
        do_record_payment(clerk, invoice.pk, cash(100))
    with pytest.raises(BillingError, match="closed"):
        form_invoice(clerk, patient)
    with pytest.raises(BillingError, match="already closed"):
        do_close_day(clerk, today, 2_900, "again")
    assert owed(invoice) == 5_000


def test_a_matching_drawer_closes_without_a_note(clerk, patient, fees):
    invoice = form_invoice(clerk, patient)
    do_record_payment(clerk, invoice.pk, cash(3_000))
    close = do_close_day(clerk, clinic_today(), 3_000)
    assert close.difference_cents == 0 and close.note == ""


# --- nothing deleted, everything audited --------------------------------------------------------


def test_nothing_financial_can_be_deleted_or_changed(clerk, patient, fees):
    invoice = form_invoice(clerk, patient)
    payment = do_record_payment(clerk, invoice.pk, cash(1_000))
    for row in (invoice, invoice.lines.get(), payment, Allocation.objects.get(payment=payment)):
        with pytest.raises(AppendOnlyError):
            row.delete()
        with pytest.raises(AppendOnlyError):
            type(row).objects.filter(pk=row.pk).delete()
        with pytest.raises(AppendOnlyError):
            row.save()
    with pytest.raises(AppendOnlyError):
        Invoice.objects.filter(pk=invoice.pk).update(total_cents=1)
    assert Invoice.objects.get(pk=invoice.pk).total_cents == 10_000
    assert InvoiceLine.objects.count() == 1 and Payment.objects.count() == 1


def billing_events(after: int, outcome=Outcome.SUCCESS) -> list[tuple[str, str]]:
    return list(
        AuditEvent.objects.filter(category="billing", outcome=outcome, sequence__gt=after)
        .order_by("sequence")
        .values_list("object_type", "object_id")
    )


def test_every_service_writes_a_billing_audit_event(clerk, patient, users, fees):
    session = sessions_of(patient, users, count=1)[0]
    start = AuditEvent.objects.aggregate(m=Max("sequence"))["m"] or 0
    payer = do_add_payer(clerk, PayerInput(name="WSIB", kind=PayerKind.WSIB))
    coverage = do_add_coverage(
        clerk,
        patient.pk,
        CoverageInput(payer_id=payer.pk, payer_share_basis_points=10_000, claim_number="C-1"),
    )
    deposit = do_record_deposit(clerk, session.plan_id, cash(1_000))
    issued = do_issue_session_invoice(clerk, patient.pk, [session.pk], coverage_id=coverage.pk)
    form = form_invoice(clerk, patient)
    payment = do_record_payment(clerk, form.pk, cash(5_000))
    credit = do_issue_credit_note(
        clerk, form.pk, CreditInput(reason="Discount", full=False, amount_cents=7_000)
    )
    refund = do_refund(
        clerk, payment.pk, RefundInput(amount_cents=2_000, method="cash", reason="Discount")
    )
    other = do_record_payment(clerk, issued.payer_invoice.pk, cash(100, PaymentMethod.INSURER))
    reversal = do_reverse_payment(clerk, other.pk, "Wrong invoice")
    close = do_close_day(clerk, clinic_today(), 0, "Cash went to the bank")

    expected = [
        ("payer", str(payer.pk)),
        ("coverage", str(coverage.pk)),
        ("payment", str(deposit.pk)),
        ("invoice", str(issued.payer_invoice.pk)),
        ("invoice", str(form.pk)),
        ("payment", str(payment.pk)),
        ("invoice", str(credit.pk)),
        ("refund", str(refund.pk)),
        ("payment", str(other.pk)),
        ("payment", str(reversal.pk)),
        ("dailyclose", str(close.pk)),
    ]
    assert billing_events(start) == expected
    # A refusal is audited too (after the rollback), and saves nothing.
    with pytest.raises(BillingError):
        do_record_payment(clerk, form.pk, cash(1))
    assert billing_events(start) == expected
    refusals = AuditEvent.objects.filter(category="billing", sequence__gt=start).exclude(
        outcome=Outcome.SUCCESS
    )
    assert refusals.count() == 1


def test_a_payer_that_pays_nothing_passes_all_to_the_patient_and_the_session_stays_billed(
    clerk, patient, users, fees
):
    payer = do_add_payer(clerk, PayerInput(name="WSIB", kind=PayerKind.WSIB))
    coverage = do_add_coverage(
        clerk,
        patient.pk,
        CoverageInput(payer_id=payer.pk, payer_share_basis_points=10_000, claim_number="C-9"),
    )
    session = sessions_of(patient, users, count=1)[0]
    result = do_issue_session_invoice(clerk, patient.pk, [session.pk], coverage_id=coverage.pk)
    assert result.patient_invoice is None

    moved = do_transfer_to_patient(clerk, result.payer_invoice.pk, "Claim denied")

    assert owed(result.payer_invoice) == 0
    assert owed(moved.patient_invoice) == SESSION + PLAN
    # The session is billed (to the patient now): it cannot be invoiced a second time.
    assert session.pk not in {b.session.pk for b in billable_sessions(patient)}
    with pytest.raises(BillingError):
        do_issue_session_invoice(clerk, patient.pk, [session.pk])


def test_deposit_money_on_a_fully_credited_invoice_pays_the_invoice_issued_again(
    clerk, patient, users, fees
):
    (session,) = sessions_of(patient, users, count=1)
    do_record_deposit(clerk, session.plan_id, cash(100_000, PaymentMethod.CREDIT_CARD))
    first = do_issue_session_invoice(clerk, patient.pk, [session.pk]).patient_invoice
    do_issue_credit_note(clerk, first.pk, CreditInput(reason="Wrong fee"))

    again = do_issue_session_invoice(clerk, patient.pk, [session.pk])

    # The patient paid $1,000.00 for a bill of $725.50: nothing is owed.
    assert owed(again.patient_invoice) == 0


def test_every_invoices_standing_follows_its_balance(clerk, patient, users, fees):
    """The overdue lists read the kept standing: it must equal the balance after every kind of
    money event, and a rebuild from the rows must agree."""
    from painclinic.web.billing.models import Invoice, InvoiceStanding
    from painclinic.web.billing.services import balances, rebuild_standings

    first, second = sessions_of(patient, users, count=2)
    deposit = do_record_deposit(clerk, first.plan_id, cash(5_000))
    one = do_issue_session_invoice(clerk, patient.pk, [first.pk]).patient_invoice
    two = do_issue_session_invoice(clerk, patient.pk, [second.pk]).patient_invoice
    paid = do_record_payment(clerk, two.pk, cash(20_000, PaymentMethod.DEBIT))
    do_issue_credit_note(clerk, one.pk, CreditInput(reason="Wrong fee"))
    do_refund(clerk, deposit.pk, RefundInput(amount_cents=1_000, method="cash", reason="Asked"))
    do_reverse_payment(clerk, paid.pk, "Entered twice")

    def kept() -> dict[int, int]:
        return dict(InvoiceStanding.objects.values_list("invoice_id", "balance_cents"))

    invoices = list(Invoice.objects.filter(kind="invoice"))
    live = {pk: state.balance_cents for pk, state in balances(invoices).items()}
    assert kept() == live
    assert live[two.pk] == two.total_cents  # the reversed payment owes again
    assert rebuild_standings() == len(invoices)
    assert kept() == live
