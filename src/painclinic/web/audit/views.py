from __future__ import annotations

import csv
import datetime as dt
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from painclinic.web.accounts.models import Role, User
from painclinic.web.accounts.permissions import allow_roles
from painclinic.web.audit.models import AuditEvent
from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.lib.converters import MAX_ROW_ID
from painclinic.web.lib.http import actor_of
from painclinic.web.lib.spreadsheet import inert_row
from painclinic.web.lib.widgets import IsoDateInput

# User input never reaches order_by directly: only these keys are accepted.
SORTS = {
    "newest": ("-sequence",),
    "oldest": ("sequence",),
    "user": ("actor_username", "-sequence"),
    "patient": ("patient_id", "-sequence"),
    "action": ("action", "-sequence"),
}


# The dates a report can ask for (a day past the last one must still be a date).
EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2999, 12, 31)


class AuditFilterForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=User.objects.order_by("username"), required=False, to_field_name="username"
    )
    patient = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ROW_ID, label="Patient #"
    )
    date_from = forms.DateField(required=False, widget=IsoDateInput())
    date_to = forms.DateField(required=False, widget=IsoDateInput())
    sort = forms.ChoiceField(choices=[(k, k) for k in SORTS], required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in ("date_from", "date_to"):
            day = cleaned.get(name)
            if day is not None and not EARLIEST <= day <= LATEST:
                self.add_error(name, f"Choose a date from {EARLIEST} to {LATEST}.")
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def filtered_events(data: dict[str, Any]) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.select_related("patient")
    if data.get("user"):
        events = events.filter(actor=data["user"])
    if data.get("patient"):
        events = events.filter(patient_id=data["patient"])
    if data.get("date_from"):
        events = events.filter(occurred_at__gte=_day_start(data["date_from"]))
    if data.get("date_to"):
        events = events.filter(occurred_at__lt=_day_start(data["date_to"] + dt.timedelta(days=1)))
    return events.order_by(*SORTS.get(data.get("sort") or "newest", SORTS["newest"]))


@allow_roles(Role.CLINIC_ADMIN)
@require_safe
def report(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    # Audit first: the page then counts and lists the same rows, this view included.
    audit(
        actor_of(request),
        category=Category.AUDIT,
        action=Action.VIEW,
        detail={"filters": {k: str(v) for k, v in data.items() if v}},
    )
    page = Paginator(filtered_events(data), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render(request, "audit/report.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


@allow_roles(Role.CLINIC_ADMIN)
@require_safe
def export_csv(request: HttpRequest) -> StreamingHttpResponse:
    form = AuditFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    events = filtered_events(data)
    audit(
        actor_of(request),
        category=Category.AUDIT,
        action=Action.EXPORT,
        detail={"filters": {k: str(v) for k, v in data.items() if v}},
    )
    writer = csv.writer(_Echo())
    header = [
        "sequence",
        "occurred_at_utc",
        "user",
        "role",
        "patient_id",
        "category",
        "action",
        "object_type",
        "object_id",
        "outcome",
        "client_ip",
        "channel",
        "origin",
        "event_hash",
    ]

    def rows() -> Any:
        yield writer.writerow(header)
        for e in events.iterator(chunk_size=1000):
            # Inert cells: a log-in name typed by anyone reaches this file (CSV injection).
            yield writer.writerow(
                inert_row(
                    [
                        e.sequence,
                        e.occurred_at.astimezone(dt.UTC).isoformat(),
                        e.actor_username,
                        e.actor_role,
                        e.patient_id or "",
                        e.category,
                        e.action,
                        e.object_type,
                        e.object_id,
                        e.outcome,
                        e.client_ip or "",
                        e.channel,
                        e.origin,
                        e.event_hash,
                    ]
                )
            )

    stamp = timezone.localdate().isoformat()
    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="painclinic-audit-{stamp}.csv"'
    return response
