from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from painclinic.web.accounts.permissions import allow_roles
from painclinic.web.audit.services import Action, audit
from painclinic.web.drugregister.forms import (
    CountForm,
    DestructionForm,
    EntryFilterForm,
    ReceiptForm,
    ResolveForm,
    WasteForm,
)
from painclinic.web.drugregister.models import Discrepancy, RegisterEntry, StockCount
from painclinic.web.drugregister.roles import ROLES
from painclinic.web.drugregister.services import (
    CATEGORY,
    DrugRegisterError,
    balances,
    do_record_count,
    do_record_destruction,
    do_record_receipt,
    do_record_waste,
    do_resolve_discrepancy,
    entries_filter,
    lots_in_stock,
    open_discrepancies,
)
from painclinic.web.lib.http import acting_user, actor_of
from painclinic.web.patients.access import read_for

PAGE_SIZE = 50


def _put_error(form: Any, error: DrugRegisterError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def _entries() -> Any:
    return RegisterEntry.objects.select_related("recorded_by", "witness", "patient")


@allow_roles(ROLES.view_register)
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    recent = list(_entries()[:15])
    audit(
        actor_of(request),
        category=CATEGORY,
        action=Action.VIEW,
        detail={"page": "home", "entry_ids": [e.pk for e in recent]},
    )
    role = acting_user(request).role
    context = {
        "balances": balances(),
        "lots": lots_in_stock(),
        "recent": recent,
        "open_count": open_discrepancies().count(),
        "can_record": role in ROLES.record_receipt,
        "can_resolve": role in ROLES.resolve_discrepancy,
    }
    return render(request, "drugregister/home.html", context)


@allow_roles(ROLES.record_receipt)
@require_http_methods(["GET", "POST"])
def receive(request: HttpRequest) -> HttpResponse:
    form = ReceiptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            entry = do_record_receipt(actor_of(request), form.to_input())
        except DrugRegisterError as error:
            _put_error(form, error)
        else:
            messages.success(
                request, f"Received {entry.vial_count} vials of lot {entry.lot} into the register."
            )
            return redirect("drugregister:home")
    return render(request, "drugregister/receive.html", {"form": form})


@allow_roles(ROLES.record_count)
@require_http_methods(["GET", "POST"])
def count(request: HttpRequest) -> HttpResponse:
    form = CountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = do_record_count(actor_of(request), form.to_input())
        except DrugRegisterError as error:
            _put_error(form, error)
        else:
            if result.counted_mg == result.computed_mg:
                messages.success(request, "Count recorded: it matches the register.")
            else:
                messages.error(
                    request,
                    "Count recorded: it does NOT match the register. A discrepancy is open; "
                    "tell the physician in charge.",
                )
            return redirect("drugregister:discrepancies")
    recent = list(StockCount.objects.select_related("counted_by", "discrepancy")[:20])
    context = {"form": form, "balances": balances(), "counts": recent}
    return render(request, "drugregister/count.html", context)


@allow_roles(ROLES.list_discrepancies)
@require_safe
def discrepancies(request: HttpRequest) -> HttpResponse:
    rows = list(
        Discrepancy.objects.select_related(
            "count",
            "count__counted_by",
            "resolution",
            "resolution__resolved_by",
        )[:200]
    )
    audit(
        actor_of(request), category=CATEGORY, action=Action.VIEW, detail={"page": "discrepancies"}
    )
    counts = list(StockCount.objects.select_related("counted_by", "discrepancy")[:30])
    context = {
        "rows": rows,
        "counts": counts,
        "can_resolve": acting_user(request).role in ROLES.resolve_discrepancy,
    }
    return render(request, "drugregister/discrepancies.html", context)


@allow_roles(ROLES.resolve_discrepancy)
@require_http_methods(["GET", "POST"])
def resolve(request: HttpRequest, discrepancy_id: int) -> HttpResponse:
    discrepancy = (
        Discrepancy.objects.select_related("count", "count__counted_by")
        .filter(pk=discrepancy_id)
        .first()
    )
    if discrepancy is None:
        raise Http404("No such discrepancy")
    form = ResolveForm(request.POST or None)
    resolved = hasattr(discrepancy, "resolution")
    if request.method == "POST" and form.is_valid() and not resolved:
        try:
            do_resolve_discrepancy(
                actor_of(request), discrepancy.pk, form.cleaned_data["explanation"]
            )
        except DrugRegisterError as error:
            _put_error(form, error)
        else:
            messages.success(
                request, "Discrepancy resolved; the register is adjusted to the count."
            )
            return redirect("drugregister:discrepancies")
    context = {"form": form, "discrepancy": discrepancy, "resolved": resolved}
    return render(request, "drugregister/resolve.html", context)


@allow_roles(ROLES.list_entries)
@require_safe
def entries(request: HttpRequest) -> HttpResponse:
    form = EntryFilterForm(request.GET)
    filters: dict[str, Any] = {}
    if form.is_valid():
        data = form.cleaned_data
        filters = {
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
            "lot": data.get("lot") or "",
            "concentration": data.get("concentration"),
            "kind": data.get("kind") or "",
        }
        queryset = entries_filter(**filters)
    else:
        queryset = RegisterEntry.objects.none()
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    audit(
        actor_of(request),
        category=CATEGORY,
        action=Action.SEARCH,
        detail={
            "filters": {k: str(v) for k, v in filters.items() if v},
            "entry_ids": [e.pk for e in page],
        },
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "drugregister/entries.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


def _session_for(request: HttpRequest, session_id: int) -> Any:
    from painclinic.web.infusions.models import InfusionSession

    return read_for(
        actor_of(request),
        InfusionSession.objects.select_related("patient", "plan", "booking", "booking__chair"),
        session_id,
        category=CATEGORY,
    )


@allow_roles(ROLES.record_waste)
@require_http_methods(["GET", "POST"])
def waste(request: HttpRequest, session_id: int) -> HttpResponse:
    """Witnessed waste of what was drawn for one infusion session."""
    session = _session_for(request, session_id)
    user = acting_user(request)
    form = WasteForm(request.POST or None, user_id=user.pk)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            do_record_waste(
                actor_of(request),
                session,
                concentration_mg_per_ml=data["concentration_mg_per_ml"],
                amount_mg=data["amount_mg"],
                witness=data["witness"],
                witness_password=data["witness_password"],
                reason=data["reason"],
            )
        except DrugRegisterError as error:
            _put_error(form, error)
        else:
            messages.success(request, "Waste recorded and witnessed.")
            return redirect("drugregister:waste", session_id=session.pk)
    from painclinic.web.patients.services import latest_weight

    context = {
        "session": session,
        "patient": session.patient,
        "weight": latest_weight(session.patient),
        "form": form,
        "entries": list(_entries().filter(session=session).order_by("recorded_at", "id")),
    }
    return render(request, "drugregister/waste.html", context)


@allow_roles(ROLES.record_destruction)
@require_http_methods(["GET", "POST"])
def destroy(request: HttpRequest) -> HttpResponse:
    """Witnessed destruction of expired or damaged stock."""
    user = acting_user(request)
    form = DestructionForm(request.POST or None, user_id=user.pk, initial=request.GET or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            entry = do_record_destruction(
                actor_of(request),
                concentration_mg_per_ml=data["concentration_mg_per_ml"],
                lot=data["lot"],
                amount_mg=data["amount_mg"],
                witness=data["witness"],
                witness_password=data["witness_password"],
                reason=data["reason"],
            )
        except DrugRegisterError as error:
            _put_error(form, error)
        else:
            messages.success(request, f"Destruction of lot {entry.lot} recorded and witnessed.")
            return redirect("drugregister:home")
    return render(request, "drugregister/destroy.html", {"form": form, "lots": lots_in_stock()})
