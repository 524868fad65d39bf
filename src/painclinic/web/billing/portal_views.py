"""The patient's own invoices, receipts and yearly statements in the portal.

No page takes a patient id: the patient is the signed-in portal user's own record
(``get_own_patient``). An invoice id is checked against its owner by ``read_for``: another
patient's invoice, or one that does not exist, is the same audited 404. Every list view and
every download is audited.
"""

from __future__ import annotations

from django.db.models.functions import ExtractYear
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from painclinic.web.accounts.permissions import allow_roles
from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.billing.models import Invoice, Payment
from painclinic.web.billing.receipts import (
    invoice_pdf,
    receipt_filename,
    statement_filename,
    statement_pdf,
)
from painclinic.web.billing.roles import ROLES
from painclinic.web.billing.services import balances
from painclinic.web.lib.clinicdate import clinic_today
from painclinic.web.lib.http import actor_of
from painclinic.web.lib.money import money as dollars
from painclinic.web.patients.access import get_own_patient, read_for

CATEGORY = Category.BILLING


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


def _statement_years(patient_id: int) -> list[int]:
    """The years the patient paid anything, newest first, and always the current year."""
    years = set(
        Payment.objects.filter(patient_id=patient_id)
        .annotate(year=ExtractYear("received_on"))
        .values_list("year", flat=True)
        .distinct()
    )
    years.add(clinic_today().year)
    return sorted(years, reverse=True)


@allow_roles(ROLES.view_own)
@require_safe
def invoices(request: HttpRequest) -> HttpResponse:
    """Invoices and receipts: each of my invoices with its balance, and each year's statement."""
    actor = actor_of(request)
    patient = get_own_patient(actor)
    audit(actor, category=CATEGORY, action=Action.VIEW, patient=patient, obj=patient)
    rows = list(
        Invoice.objects.filter(patient=patient)
        .select_related("coverage__payer", "credits")
        .order_by("-issued_on", "-number")
    )
    owed = balances(rows)
    entries = []
    for invoice in rows:
        balance = owed[invoice.pk].balance_cents
        if invoice.is_credit_note:
            status = (
                _("Credits %(number)s") % {"number": invoice.credits.display_number}
                if invoice.credits
                else ""
            )
        elif balance > 0:
            status = _("Balance owing")
        else:
            status = _("Paid")
        entries.append(
            {
                "invoice": invoice,
                "bill_to": invoice.coverage.payer.name if invoice.coverage else _("You"),
                "total": dollars(
                    -invoice.total_cents if invoice.is_credit_note else invoice.total_cents
                ),
                "balance": "" if invoice.is_credit_note else dollars(balance),
                "status": status,
                "document": _("Credit note")
                if invoice.is_credit_note
                else (_("Invoice") if balance > 0 else _("Receipt")),
            }
        )
    owing = sum(
        owed[i.pk].balance_cents for i in rows if not i.is_credit_note and i.coverage_id is None
    )
    return render(
        request,
        "billing/portal_invoices.html",
        {
            "patient": patient,
            "entries": entries,
            "years": _statement_years(patient.pk),
            "owing": dollars(max(owing, 0)),
            "has_owing": owing > 0,
        },
    )


@allow_roles(ROLES.view_own)
@require_safe
def receipt_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """My receipt (or invoice, or credit note) as PDF; another patient's is a 404, audited."""
    invoice = read_for(
        actor_of(request),
        Invoice.objects.select_related("patient"),
        invoice_id,
        category=CATEGORY,
        action=Action.EXPORT,
        detail={"document": "receipt_pdf"},
    )
    return _pdf(invoice_pdf(invoice), receipt_filename(invoice))


@allow_roles(ROLES.view_own)
@require_safe
def statement_pdf_view(request: HttpRequest, year: int) -> HttpResponse:
    """My statement of payments for one calendar year, as PDF."""
    actor = actor_of(request)
    patient = get_own_patient(actor)
    if not 2000 <= year <= clinic_today().year:
        raise Http404("No statement for that year")
    audit(
        actor,
        category=CATEGORY,
        action=Action.EXPORT,
        patient=patient,
        obj=patient,
        detail={"document": "statement_pdf", "year": year},
    )
    return _pdf(statement_pdf(patient, year), statement_filename(patient, year))
