import datetime as dt

from django.urls import path, register_converter
from django.urls.converters import get_converters

from painclinic.web.billing import views
from painclinic.web.lib import converters  # noqa: F401 - registers <id:...>


class IsoDateConverter:
    """A clinic day as YYYY-MM-DD; an impossible date (2026-02-30) is no match (404)."""

    regex = "[0-9]{4}-[0-9]{2}-[0-9]{2}"

    def to_python(self, value: str) -> dt.date:
        return dt.date.fromisoformat(value)  # ValueError -> no match

    def to_url(self, value: dt.date | str) -> str:
        if isinstance(value, dt.date):
            return value.isoformat()
        return dt.date.fromisoformat(value).isoformat()


class YearConverter:
    """A calendar year, four digits (no integer beyond any range reaches a view)."""

    regex = "[0-9]{4}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int | str) -> str:
        return f"{int(value):04d}"


if "isodate" not in get_converters():
    register_converter(IsoDateConverter, "isodate")
if "year" not in get_converters():
    register_converter(YearConverter, "year")

app_name = "billing"
urlpatterns = [
    path("", views.home, name="home"),
    path("patients/<id:patient_id>/", views.patient, name="patient"),
    path("patients/<id:patient_id>/statement/", views.statement, name="statement"),
    path(
        "patients/<id:patient_id>/statement-<year:year>.pdf",
        views.statement_pdf,
        name="statement_pdf",
    ),
    path("invoices/<id:invoice_id>/", views.invoice, name="invoice"),
    path("invoices/<id:invoice_id>/receipt.pdf", views.invoice_pdf, name="invoice_pdf"),
    path("days/<isodate:day>/", views.day, name="day"),
    path("reports/", views.reports, name="reports"),
    path("payers/", views.payers, name="payers"),
]
