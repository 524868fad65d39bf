"""The patient's invoices and receipts, mounted inside the portal (names ``portal:…``)."""

from django.urls import path

from painclinic.web.billing import portal_views
from painclinic.web.lib import converters  # noqa: F401 - registers <id:...>

urlpatterns = [
    path("", portal_views.invoices, name="invoices"),
    path("<id:invoice_id>/receipt.pdf", portal_views.receipt_pdf, name="receipt_pdf"),
    path("statement-<id:year>.pdf", portal_views.statement_pdf_view, name="statement_pdf"),
]
