"""Keep each invoice's standing (``InvoiceStanding``) in step with the rows that change it.

Receivers run inside the writer's transaction: an invoice issued (its own standing; for a
credit note, the standing of the invoice it credits) and an allocation written (its invoice).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from painclinic.web.billing.models import Allocation, Invoice, InvoiceKind, InvoiceStanding
from painclinic.web.billing.services import balances


def restate(invoice_ids: set[int]) -> None:
    invoices = list(Invoice.objects.filter(pk__in=invoice_ids, kind=InvoiceKind.INVOICE))
    for invoice in invoices:
        state = balances([invoice])[invoice.pk]
        InvoiceStanding.objects.update_or_create(
            invoice=invoice,
            defaults={"due_on": invoice.due_on, "balance_cents": state.balance_cents},
        )


@receiver(post_save, sender=Invoice, dispatch_uid="billing_invoice_standing")
def invoice_written(sender: Any, instance: Invoice, created: bool, **kwargs: Any) -> None:
    if created:
        restate({instance.credits_id} if instance.credits_id else {instance.pk})


@receiver(post_save, sender=Allocation, dispatch_uid="billing_allocation_standing")
def allocation_written(sender: Any, instance: Allocation, created: bool, **kwargs: Any) -> None:
    if created:
        restate({instance.invoice_id})
