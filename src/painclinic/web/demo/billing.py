"""Demo billing: fees, payers, and the portal patient's series invoiced, split and part paid.

Run after the follow-up demo. Jordan Whitfield (the ``patient`` demo login) had three ketamine
infusions 11, 9 and 7 days ago, imported as history with their bookings (``demo/followup.py``);
here the three infusion notes are imported as signed (as a clinic moving to painclinic brings
its charts in), which makes the sessions billable. Everything after that goes through the
billing services as the ``billing`` demo user on the command line (``Channel.CLI``; the audit
trail says the demo command did it): the payers and Jordan's extended-health plan (Sun Life,
80 % of each service), the first two sessions invoiced with the split (the plan's invoice and
Jordan's 20 %), Jordan's share paid, the plan paying part of its invoice, the third session
invoiced to Jordan and part paid, and an insurer's report (taxable, HST) unpaid. Signing in as
``billing`` shows balances, payments and a day's entries.

Every amount is a DEMO VALUE, not a real price. Safe to run again: fees and payers are added
only when missing, Jordan's sessions and invoices only once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from painclinic.web.accounts.models import User
from painclinic.web.billing.models import Coverage, Invoice, Payer, PayerKind, PaymentMethod
from painclinic.web.billing.services import (
    CoverageInput,
    ManualInvoiceInput,
    ManualLineInput,
    PayerInput,
    PaymentInput,
    balance_of,
    do_add_coverage,
    do_add_payer,
    do_issue_manual_invoice,
    do_issue_session_invoice,
    do_record_payment,
)
from painclinic.web.demo.treatments import DEMO_EFFECTIVE_FROM
from painclinic.web.infusions.models import InfusionSession, SessionStatus
from painclinic.web.lib.service import Actor, Channel
from painclinic.web.patients.models import Patient
from painclinic.web.scheduling.models import Booking
from painclinic.web.treatments.models import Drug, FeeBasis, FeeItem, PlannedSession, TaxCategory
from painclinic.web.treatments.services import FeeItemInput, do_add_fee_item

DEMO_ORIGIN = "painclinic demo"
DEMO = "(DEMO VALUE, not a real price)"

# code, description, cents, basis, drug, tax category, extra FeeItemInput fields
BILLING_FEES: list[tuple[str, str, int, str, str, str, dict[str, int]]] = [
    (
        "DEMO-KET-EXTENDED",
        f"Extended ketamine infusion, over 4 hours: added nursing and monitoring time {DEMO}",
        7500,
        FeeBasis.PER_SESSION,
        Drug.KETAMINE,
        TaxCategory.EXEMPT_HEALTH,
        {"min_minutes": 241},
    ),
    (
        "DEMO-LID-EXTENDED",
        f"Extended lidocaine infusion, over 1 hour: added nursing and monitoring time {DEMO}",
        5000,
        FeeBasis.PER_SESSION,
        Drug.LIDOCAINE,
        TaxCategory.EXEMPT_HEALTH,
        {"min_minutes": 61},
    ),
    (
        "DEMO-KET-PACKAGE-4",
        f"Ketamine infusion series package, 4 sessions paid as one {DEMO}",
        160000,
        FeeBasis.PACKAGE,
        Drug.KETAMINE,
        TaxCategory.EXEMPT_HEALTH,
        {"package_sessions": 4},
    ),
    (
        "DEMO-MISSED",
        f"Missed appointment, not cancelled {DEMO}",
        10000,
        FeeBasis.MISSED,
        "",
        TaxCategory.EXEMPT_HEALTH,
        {},
    ),
    (
        "DEMO-LATE-CANCEL",
        f"Late cancellation, less than 48 hours' notice {DEMO}",
        7500,
        FeeBasis.LATE_CANCEL,
        "",
        TaxCategory.EXEMPT_HEALTH,
        {},
    ),
    (
        "DEMO-INSURER-REPORT",
        f"Medical report for an insurer (not a health service: HST applies) {DEMO}",
        15000,
        FeeBasis.SERVICE,
        "",
        TaxCategory.TAXABLE,
        {},
    ),
]

DEMO_PAYERS = [
    ("WSIB (demo)", PayerKind.WSIB, "200 Front Street West, Toronto ON M5V 3J1"),
    ("Maple Auto Insurance (demo)", PayerKind.AUTO, "100 King Street West, Toronto ON M5X 1C9"),
    ("Sun Life (demo)", PayerKind.PRIVATE_PLAN, "Claims, PO Box 2025, Waterloo ON N2J 0B9"),
]
PLAN_SHARE_BASIS_POINTS = 8000  # Sun Life pays 80 % of each service, Jordan 20 %


@dataclass(frozen=True)
class BillingDemoSummary:
    fees_added: int
    payers_added: int
    invoices_issued: int


def _as(user: User) -> Actor:
    return Actor.for_user(user, Channel.CLI, DEMO_ORIGIN)


def load_billing_fees(actor: Actor) -> int:
    """Add the billing demo's fee items that are missing, as ``actor`` (a clinic admin)."""
    added = 0
    for code, description, cents, basis, drug, tax, extra in BILLING_FEES:
        if FeeItem.objects.filter(code=code).exists():
            continue
        do_add_fee_item(
            actor,
            FeeItemInput(
                code=code,
                description=description,
                amount_cents=cents,
                basis=basis,
                drug=drug,
                tax_category=tax,
                effective_from=DEMO_EFFECTIVE_FROM,
                min_minutes=extra.get("min_minutes"),
                package_sessions=extra.get("package_sessions"),
            ),
        )
        added += 1
    return added


def load_payers(actor: Actor) -> int:
    added = 0
    for name, kind, address in DEMO_PAYERS:
        if Payer.objects.filter(name=name).exists():
            continue
        do_add_payer(actor, PayerInput(name=name, kind=kind, address=address))
        added += 1
    return added


def _import_signed_sessions(patient: Patient) -> list[InfusionSession]:
    """The portal patient's imported series: its completed bookings get their signed infusion
    notes (imported records; the plan's sessions planned from the protocol at its weight)."""
    from painclinic.clinical import plan as clinical_plan

    bookings = list(
        Booking.objects.filter(patient=patient, plan__isnull=False, infusion_session__isnull=True)
        .select_related("plan")
        .order_by("starts_at")
    )
    if not bookings:
        return []
    plan = bookings[0].plan
    assert plan is not None
    sex = patient.sex_at_birth if patient.sex_at_birth in ("female", "male") else "female"
    result = clinical_plan(
        plan.protocol_id, {"weight_kg": float(plan.dosing_weight_kg), "sex": sex}
    )
    made = []
    with transaction.atomic():
        for number, booking in enumerate(bookings, start=1):
            checked = result.sessions[number - 1]
            planned, _ = PlannedSession.objects.get_or_create(
                plan=plan,
                number=number,
                defaults={
                    "day_offset": (booking.starts_at - bookings[0].starts_at).days,
                    "duration_min": round(sum(step.duration_min for step in checked.steps)),
                    "total_mg": checked.total_mg,
                    "steps": [
                        {
                            "label": step.label,
                            "start_min": step.start_min,
                            "duration_min": step.duration_min,
                            "rate_mg_per_h": step.rate_mg_per_h,
                            "rate_ml_per_h": step.rate_ml_per_h,
                            "concentration_mg_per_ml": step.order["bag"]["concentration_mg_per_ml"],
                            "total_mg": step.total_mg,
                        }
                        for step in checked.steps
                    ],
                },
            )
            made.append(
                InfusionSession.objects.create(
                    patient=patient,
                    booking=booking,
                    plan=plan,
                    planned_session=planned,
                    status=SessionStatus.SIGNED,
                    dosing_weight_kg=plan.dosing_weight_kg,
                )
            )
    return made


def _bill_the_portal_patient(clerk: Actor, patient: Patient) -> int:
    """Jordan's series invoiced (two sessions split with Sun Life), payments, an insurer report;
    returns the invoices issued."""
    sessions = list(
        InfusionSession.objects.filter(patient=patient, status=SessionStatus.SIGNED).order_by(
            "booking__starts_at"
        )
    )
    if len(sessions) < 3:
        return 0
    payer = Payer.objects.get(name="Sun Life (demo)")
    coverage = Coverage.objects.filter(patient=patient, payer=payer, active=True).first()
    if coverage is None:
        coverage = do_add_coverage(
            clerk,
            patient.pk,
            CoverageInput(
                payer_id=payer.pk,
                payer_share_basis_points=PLAN_SHARE_BASIS_POINTS,
                plan_name="Extended health (demo)",
                group_number="G-104233",
                member_id="JW-5581-02",
            ),
        )
    split = do_issue_session_invoice(
        clerk, patient.pk, [s.pk for s in sessions[:2]], coverage_id=coverage.pk
    )
    assert split.patient_invoice is not None and split.payer_invoice is not None
    own_share = balance_of(split.patient_invoice).balance_cents
    if own_share:
        do_record_payment(
            clerk,
            split.patient_invoice.pk,
            PaymentInput(amount_cents=own_share, method=PaymentMethod.DEBIT),
        )
    # The plan pays half of its invoice for now: the rest stays visible as owed by the payer.
    do_record_payment(
        clerk,
        split.payer_invoice.pk,
        PaymentInput(
            amount_cents=split.payer_invoice.total_cents // 2,
            method=PaymentMethod.INSURER,
            reference="EFT 884120 (demo)",
        ),
    )
    third = do_issue_session_invoice(clerk, patient.pk, [sessions[2].pk]).patient_invoice
    assert third is not None
    do_record_payment(
        clerk,
        third.pk,
        PaymentInput(amount_cents=20000, method=PaymentMethod.CREDIT_CARD, reference="4417"),
    )
    report = do_issue_manual_invoice(
        clerk,
        patient.pk,
        ManualInvoiceInput(
            lines=(ManualLineInput(fee_code="DEMO-INSURER-REPORT"),),
            note="Progress report requested by the extended-health plan (demo).",
        ),
    )
    return len(split.invoices) + 1 + len(report.invoices)


def load_billing_demo() -> BillingDemoSummary:
    """Fees, payers and the portal patient's invoices; returns what was added this time."""
    admin = _as(User.objects.get(username="clinicadmin"))
    clerk = _as(User.objects.get(username="billing"))
    fees = load_billing_fees(admin)
    payers = load_payers(clerk)
    issued = 0
    patient = Patient.objects.filter(portal_user__username="patient").first()
    if patient is not None and not Invoice.objects.filter(patient=patient).exists():
        _import_signed_sessions(patient)
        issued = _bill_the_portal_patient(clerk, patient)
    return BillingDemoSummary(fees_added=fees, payers_added=payers, invoices_issued=issued)
