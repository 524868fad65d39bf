"""The demo's billing: the portal patient's imported series invoiced through the services (two
sessions split with an extended-health plan, one part paid, an insurer's report with HST), the
demo fees and payers; loading it again adds nothing."""

from __future__ import annotations

import datetime as dt

from painclinic.web.audit.chain import verify_chain
from painclinic.web.audit.models import AuditEvent
from painclinic.web.billing.models import Invoice, Payer, Payment
from painclinic.web.billing.services import balance_of, billable_sessions
from painclinic.web.demo.billing import load_billing_demo
from painclinic.web.demo.followup import load_followup_demo
from painclinic.web.demo.registry import load_demo
from painclinic.web.demo.treatment import load_treatment_demo
from painclinic.web.patients.models import Patient
from painclinic.web.treatments.models import FeeItem, TaxCategory


def load_all() -> None:
    load_demo(password="demo-password-1234", patient_count=5)
    load_treatment_demo(patient_count=1)
    load_followup_demo()


def test_demo_bills_the_portal_patients_series_and_is_rerunnable(db, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC))  # 10:00 in Toronto
    load_all()
    summary = load_billing_demo()
    assert (summary.fees_added, summary.payers_added, summary.invoices_issued) == (6, 3, 4)

    fees = {item.code: item for item in FeeItem.objects.all()}
    assert fees["DEMO-INSURER-REPORT"].tax_category == TaxCategory.TAXABLE
    for code in ("DEMO-KET-SESSION", "DEMO-LID-SESSION", "DEMO-KET-PACKAGE-4", "DEMO-MISSED"):
        assert fees[code].tax_category == TaxCategory.EXEMPT_HEALTH
        assert "DEMO VALUE" in fees[code].description
    assert fees["DEMO-KET-PACKAGE-4"].package_sessions == 4
    assert set(Payer.objects.values_list("name", flat=True)) == {
        "WSIB (demo)",
        "Maple Auto Insurance (demo)",
        "Sun Life (demo)",
    }

    jordan = Patient.objects.get(portal_user__username="patient")
    assert billable_sessions(jordan) == []  # the three signed sessions are billed, once
    payer_inv, share, third, report = Invoice.objects.filter(patient=jordan).order_by("number")
    # Sessions 1 and 2 with the planning visit: $250 + 2 x ($450 + $25.50) = $1,201.00,
    # Sun Life 80 % of each line (rounded half up), Jordan the rest.
    assert payer_inv.bill_to_name == "Sun Life (demo)" and payer_inv.total_cents == 96_080
    assert share.split_with == payer_inv and share.total_cents == 24_020
    assert balance_of(share).balance_cents == 0  # Jordan paid their share
    assert balance_of(payer_inv).balance_cents == 48_040  # the plan paid half so far
    assert third.coverage is None and third.total_cents == 47_550
    assert balance_of(third).balance_cents == 27_550  # $200 paid by card
    assert (report.subtotal_cents, report.tax_cents, report.total_cents) == (15_000, 1_950, 16_950)
    assert balance_of(report).balance_cents == 16_950
    assert {p.received_by.username for p in Payment.objects.all()} == {"billing"}

    counts = (
        FeeItem.objects.count(),
        Payer.objects.count(),
        Invoice.objects.count(),
        Payment.objects.count(),
        AuditEvent.objects.count(),
    )
    again = load_billing_demo()
    assert (again.fees_added, again.payers_added, again.invoices_issued) == (0, 0, 0)
    assert counts == (
        FeeItem.objects.count(),
        Payer.objects.count(),
        Invoice.objects.count(),
        Payment.objects.count(),
        AuditEvent.objects.count(),
    )
    assert verify_chain().ok
