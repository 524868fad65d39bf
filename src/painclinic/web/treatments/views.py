"""Treatment pages: thin views over services.py (parse, call, render)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from painclinic.pharmacology import format_dose, load_drug_library
from painclinic.web.accounts.permissions import allow_roles
from painclinic.web.audit.services import Action, audit
from painclinic.web.lib.http import acting_user, actor_of
from painclinic.web.lib.service import Refused
from painclinic.web.patients.access import get_patient_for
from painclinic.web.patients.models import Patient
from painclinic.web.treatments import charts
from painclinic.web.treatments.coverage import ConsentCoverage, plan_consent_coverage
from painclinic.web.treatments.forms import (
    CancelForm,
    CosignForm,
    FeeItemForm,
    PlanChoiceForm,
    PlanSaveForm,
    TreatmentConsentForm,
    WithdrawForm,
)
from painclinic.web.treatments.models import FeeItem, PlanStatus, TreatmentConsent, TreatmentPlan
from painclinic.web.treatments.roles import ROLES
from painclinic.web.treatments.services import (
    FEES_CATEGORY,
    TREATMENT_CATEGORY,
    PlanConflict,
    PlanPreview,
    clinic_today,
    consent_content,
    do_add_fee_item,
    do_cancel_plan,
    do_cosign_plan,
    do_create_plan,
    do_deactivate_fee_item,
    do_record_treatment_consent,
    do_withdraw_treatment_consent,
    eligibility_check,
    estimate_cost,
    fees_in_effect,
    get_consent_for,
    get_plan_for,
    limit_breaches,
    pk_covariates,
    plan_patient_covariates,
    preview_plan,
    protocol_library,
    session_rows,
    weight_check,
)

CHART_CACHE_SECONDS = 24 * 3600


# --- presentation helpers -----------------------------------------------------------------------


def _display_steps(steps: list[dict[str, Any]], dosing_weight_kg: float) -> list[dict[str, Any]]:
    """Steps for the dose table; consecutive parts of one long step (4-h orders) are merged.
    The per-kg rate is on the plan's dosing weight (ideal body weight for an IBW protocol)."""
    merged: list[dict[str, Any]] = []
    for step in steps:
        base = step["label"].split(" (part ")[0]
        last = merged[-1] if merged else None
        if (
            last is not None
            and last["base"] == base
            and last["rate_ml_per_h"] == step["rate_ml_per_h"]
        ):
            last["duration_min"] += step["duration_min"]
            last["total_mg"] += step["total_mg"]
            last["parts"] += 1
            last["limit_status"] = max(
                last["limit_status"], step.get("limit_status", "within"), key=_status_rank
            )
            continue
        merged.append(
            {
                **step,
                "base": base,
                "label": base,
                "parts": 1,
                "rate_mg_per_kg_per_h": step["rate_mg_per_h"] / dosing_weight_kg
                if dosing_weight_kg
                else None,
                "limit_status": step.get("limit_status", "within"),
            }
        )
    return merged


def _status_rank(status: str) -> int:
    return {"within": 0, "soft_limit": 1, "hard_limit": 2}.get(status, 2)


def _patient_banner(patient: Patient) -> dict[str, Any]:
    return {"patient": patient, "weight_status": weight_check(patient)}


def _standard_concentrations(drug: str) -> str:
    entry = load_drug_library().drug(drug)
    return ", ".join(format_dose(c, "mg/mL") for c in entry.standard_concentrations_mg_per_ml)


def _charts(
    drug: str,
    protocol_id: str,
    covariates: dict[str, Any],
    rows: list[dict[str, Any]],
    cache_key: str | None = None,
) -> dict[str, Any]:
    """Session-1 concentration chart, and the 12-week CRPS relief chart for CRPS protocols.

    A saved plan's doses never change, so its charts are cached under ``cache_key``."""
    if cache_key is not None:
        cached = cache.get(cache_key)
        if cached is not None:
            return dict(cached)
        fresh = _charts(drug, protocol_id, covariates, rows)
        cache.set(cache_key, fresh, CHART_CACHE_SECONDS)
        return fresh
    out: dict[str, Any] = {"concentration": None, "relief": None, "chart_error": None}
    if not rows:
        return out
    try:
        regimen = charts.regimen_from_steps(drug, covariates, rows[0]["steps"])
        out["concentration"] = charts.concentration_chart(regimen)
        protocol = protocol_library().get(protocol_id)
        if drug == "ketamine" and any(i.startswith("crps") for i in protocol.indications):
            series = charts.series_regimen(
                drug, covariates, [(r["day_offset"], r["steps"]) for r in rows]
            )
            out["relief"] = charts.relief_chart(series)
    except ValueError as error:  # PharmacologyInputError: show why, never a broken page
        out["chart_error"] = str(error)
    return out


# --- patient overview ---------------------------------------------------------------------------


@allow_roles(ROLES.view_patient)
@require_safe
def patient(request: HttpRequest, patient_id: int) -> HttpResponse:
    record = get_patient_for(actor_of(request), patient_id, category=TREATMENT_CATEGORY)
    role = acting_user(request).role
    consents = list(
        TreatmentConsent.objects.filter(patient=record)
        .select_related("obtained_by", "witness", "withdraws")
        .prefetch_related("withdrawal")
        .order_by("-recorded_at", "-id")[:50]
    )
    plans = list(
        TreatmentPlan.objects.filter(patient=record)
        .select_related("prescribed_by", "cosigned_by")
        .order_by("-prescribed_at", "-id")[:50]
    )
    titles = {p.id: p.title for p in protocol_library().protocols.values()}
    for plan in plans:
        plan.protocol_title = titles.get(plan.protocol_id, plan.protocol_id)  # type: ignore[attr-defined]
        plan.session_count = len(plan.plan_data.get("sessions", []))  # type: ignore[attr-defined]
    readiness = [(drug, eligibility_check(record, drug)) for drug in ("ketamine", "lidocaine")]
    context = {
        **_patient_banner(record),
        "readiness": readiness,
        "consents": consents,
        "plans": plans,
        "can_prescribe": role in ROLES.create_plan,
        "can_open_plans": role in ROLES.view_plan,
        "can_read_notes": role in ROLES.view_clinical_notes,
    }
    return render(request, "treatments/patient.html", context)


# --- consent ------------------------------------------------------------------------------------


@allow_roles(ROLES.record_treatment_consent)
@require_http_methods(["GET", "POST"])
def consent_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    record = get_patient_for(actor_of(request), patient_id, category=TREATMENT_CATEGORY)
    user = acting_user(request)
    chooser = PlanChoiceForm(request.GET if "protocol_id" in request.GET else None)
    source = request.POST if request.method == "POST" else None
    protocol = None
    sessions = None
    if request.method == "POST":
        protocol_id = request.POST.get("protocol_id", "")
        if protocol_id in protocol_library().protocols:
            protocol = protocol_library().get(protocol_id)
            try:
                sessions = int(request.POST.get("sessions", ""))
            except ValueError:
                sessions = protocol.sessions
    elif chooser.is_bound and chooser.is_valid():
        protocol = protocol_library().get(chooser.cleaned_data["protocol_id"])
        sessions = chooser.cleaned_data["sessions"]
    form = None
    content = None
    estimate = None
    if protocol is not None and sessions is not None:
        content = consent_content(protocol.drug)
        estimate = estimate_cost(protocol.drug, protocol.id, sessions)
        form = TreatmentConsentForm(
            source,
            obtained_by=user,
            patient_name=f"{record.legal_given_name} {record.legal_family_name}",
            initial={
                "protocol_id": protocol.id,
                "sessions": sessions,
                "patient_signed_name": f"{record.legal_given_name} {record.legal_family_name}",
            },
        )
        if request.method == "POST" and form.is_valid():
            try:
                consent = do_record_treatment_consent(actor_of(request), record, form.to_input())
            except Refused as error:
                form.add_error(error.field, error.message)
            else:
                messages.success(request, "Treatment consent recorded.")
                return redirect("treatments:consent", consent_id=consent.pk)
    context = {
        **_patient_banner(record),
        "chooser": chooser,
        "protocol": protocol,
        "sessions": sessions,
        "content": content,
        "estimate": estimate,
        "form": form,
    }
    return render(request, "treatments/consent_new.html", context)


@allow_roles(ROLES.view_consent)
@require_safe
def consent(request: HttpRequest, consent_id: int) -> HttpResponse:
    record = get_consent_for(actor_of(request), consent_id)
    role = acting_user(request).role
    withdrawal = TreatmentConsent.objects.filter(withdraws=record).first()
    context = {
        **_patient_banner(record.patient),
        "consent": record,
        "withdrawal": withdrawal,
        "can_withdraw": role in ROLES.withdraw_treatment_consent
        and record.decision == "granted"
        and withdrawal is None,
        "can_read_notes": role in ROLES.view_clinical_notes,
    }
    return render(request, "treatments/consent.html", context)


@allow_roles(ROLES.withdraw_treatment_consent)
@require_http_methods(["GET", "POST"])
def consent_withdraw(request: HttpRequest, consent_id: int) -> HttpResponse:
    record = get_consent_for(actor_of(request), consent_id)
    form = WithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            do_withdraw_treatment_consent(actor_of(request), record, form.cleaned_data["reason"])
        except Refused as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(
                request, "Withdrawal recorded; plans under this consent are cancelled."
            )
            return redirect("treatments:patient", patient_id=record.patient_id)
    context = {**_patient_banner(record.patient), "consent": record, "form": form}
    return render(request, "treatments/consent_withdraw.html", context)


# --- plans --------------------------------------------------------------------------------------


def _preview_context(preview: PlanPreview, covariates: dict[str, Any] | None) -> dict[str, Any]:
    context: dict[str, Any] = {"preview": preview}
    if preview.plan is not None and covariates is not None:
        plan_dict = preview.plan.to_dict()
        rows = session_rows(plan_dict)
        for row in rows:
            row["display_steps"] = _display_steps(row["steps"], preview.plan.dosing_weight_kg)
        context["rows"] = rows
        context["first"] = rows[0] if rows else None
        if not preview.refused:
            context.update(_charts(preview.plan.drug, preview.protocol.id, covariates, rows))
    return context


@allow_roles(ROLES.create_plan)
@require_http_methods(["GET", "POST"])
def plan_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    record = get_patient_for(actor_of(request), patient_id, category=TREATMENT_CATEGORY)
    data = request.POST if request.method == "POST" else request.GET
    chooser = PlanChoiceForm(data if "protocol_id" in data else None)
    context: dict[str, Any] = {**_patient_banner(record), "chooser": chooser}
    if not chooser.is_bound or not chooser.is_valid():
        return render(request, "treatments/plan_new.html", context)
    protocol_id = chooser.cleaned_data["protocol_id"]
    sessions = chooser.cleaned_data["sessions"]
    save_form = PlanSaveForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and save_form.is_valid():
        try:
            plan = do_create_plan(
                actor_of(request),
                record,
                protocol_id=protocol_id,
                sessions=sessions,
                soft_limit_reason=save_form.cleaned_data["soft_limit_reason"],
                expected_weight_id=save_form.cleaned_data["expected_weight_id"],
            )
        except Refused as error:
            save_form.add_error(error.field, error.message)
        else:
            if plan.status == PlanStatus.AWAITING_COSIGN:
                messages.info(
                    request, "Plan saved: it needs a second physician's co-signature before use."
                )
            else:
                messages.success(request, "Plan saved and active.")
            return redirect("treatments:plan", plan_id=plan.pk)
    preview = preview_plan(record, protocol_id, sessions)
    covariates = None
    if preview.weight.weight is not None:
        covariates = plan_patient_covariates(record, preview.weight.weight)
        covariates["age_years"] = _age(record)
    if not save_form.is_bound:
        save_form = PlanSaveForm(
            initial={
                "protocol_id": protocol_id,
                "sessions": sessions,
                "expected_weight_id": preview.weight.weight.pk if preview.weight.weight else None,
            }
        )
    context.update(_preview_context(preview, covariates))
    context.update(
        {
            # A plan longer than the consent may be saved; the page says what is not covered.
            "coverage": ConsentCoverage(preview.consent, sessions),
            "save_form": save_form,
            "protocol": preview.protocol,
            "sessions": sessions,
            "standard_concentrations": _standard_concentrations(preview.protocol.drug),
        }
    )
    return render(request, "treatments/plan_new.html", context)


def _age(record: Patient) -> int:
    today = clinic_today()
    born = record.date_of_birth
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _plan_context(request: HttpRequest, plan: TreatmentPlan) -> dict[str, Any]:
    rows = [
        {
            "number": s.number,
            "day_offset": s.day_offset,
            "duration_min": s.duration_min,
            "total_mg": float(s.total_mg),
            "steps": s.steps,
            "display_steps": _display_steps(s.steps, float(plan.dosing_weight_kg)),
        }
        for s in plan.sessions.all()
    ]
    protocol = protocol_library().protocols.get(plan.protocol_id)
    context: dict[str, Any] = {
        **_patient_banner(plan.patient),
        "plan": plan,
        "rows": rows,
        "first": rows[0] if rows else None,
        "protocol_title": protocol.title if protocol else plan.protocol_id,
        "soft_limits": limit_breaches(plan.plan_data, "soft_limit"),
        "warnings": plan.plan_data.get("warnings", []),
        "standard_concentrations": _standard_concentrations(plan.drug),
        "plan_weight": plan.weight,
        # A plan may be longer than the consent in force: the page says which sessions need
        # a new estimate and consent before they can be booked.
        "coverage": plan_consent_coverage(plan),
        "can_record_consent": acting_user(request).role in ROLES.record_treatment_consent,
    }
    # Keyed by the plan (id and time: ids can be reused after a rollback) and the age in
    # years (a covariate), so a birthday redraws it.
    covariates = pk_covariates(plan)
    key = (
        f"treatments:plan-charts:{plan.pk}:{plan.prescribed_at.timestamp()}:"
        f"{plan.protocol_id}:{covariates.get('age_years')}"
    )
    context.update(_charts(plan.drug, plan.protocol_id, covariates, rows, cache_key=key))
    return context


@allow_roles(ROLES.view_plan)
@require_safe
def plan(request: HttpRequest, plan_id: int) -> HttpResponse:
    record = get_plan_for(actor_of(request), plan_id)
    user = acting_user(request)
    context = _plan_context(request, record)
    context["can_cosign"] = (
        user.role in ROLES.cosign_plan
        and record.status == PlanStatus.AWAITING_COSIGN
        and record.prescribed_by_id != user.pk
    )
    context["can_cancel"] = user.role in ROLES.cancel_plan and record.status in (
        PlanStatus.ACTIVE,
        PlanStatus.AWAITING_COSIGN,
    )
    return render(request, "treatments/plan.html", context)


@allow_roles(ROLES.cosign_plan)
@require_http_methods(["GET", "POST"])
def plan_cosign(request: HttpRequest, plan_id: int) -> HttpResponse:
    record = get_plan_for(actor_of(request), plan_id, purpose="cosign")
    form = CosignForm(request.POST or None, initial={"expected_version": record.version})
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            do_cosign_plan(
                actor_of(request),
                record.pk,
                form.cleaned_data["expected_version"],
                form.cleaned_data["note"],
            )
        except PlanConflict as error:
            conflict = error
        except Refused as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(request, "Co-signed: the plan is active.")
            return redirect("treatments:plan", plan_id=record.pk)
    if conflict is not None:
        record = get_plan_for(actor_of(request), plan_id, purpose="cosign")
        form = CosignForm(initial={"expected_version": record.version})
    context = _plan_context(request, record)
    context.update({"form": form, "conflict": conflict})
    return render(request, "treatments/plan_cosign.html", context, status=409 if conflict else 200)


@allow_roles(ROLES.cancel_plan)
@require_http_methods(["GET", "POST"])
def plan_cancel(request: HttpRequest, plan_id: int) -> HttpResponse:
    record = get_plan_for(actor_of(request), plan_id, purpose="cancel")
    form = CancelForm(request.POST or None, initial={"expected_version": record.version})
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            do_cancel_plan(
                actor_of(request),
                record.pk,
                form.cleaned_data["expected_version"],
                form.cleaned_data["reason"],
            )
        except PlanConflict as error:
            conflict = error
        except Refused as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(request, "Plan cancelled. Create a new plan if treatment continues.")
            return redirect("treatments:plan", plan_id=record.pk)
    if conflict is not None:
        record = get_plan_for(actor_of(request), plan_id, purpose="cancel")
        form = CancelForm(initial={"expected_version": record.version})
    context = {
        **_patient_banner(record.patient),
        "plan": record,
        "form": form,
        "conflict": conflict,
    }
    return render(request, "treatments/plan_cancel.html", context, status=409 if conflict else 200)


# --- fee schedule -------------------------------------------------------------------------------


@allow_roles(ROLES.list_fees)
@require_http_methods(["GET", "POST"])
def fees(request: HttpRequest) -> HttpResponse:
    form = FeeItemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            item = do_add_fee_item(actor_of(request), form.to_input())
        except Refused as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(request, f"{item.code} added.")
            return redirect("treatments:fees")
    else:
        audit(
            actor_of(request), category=FEES_CATEGORY, action=Action.VIEW, detail={"page": "fees"}
        )
    in_effect = {item.pk for item in fees_in_effect()}
    items = list(FeeItem.objects.select_related("created_by", "deactivated_by")[:500])
    titles = {p.id: p.title for p in protocol_library().protocols.values()}
    for item in items:
        item.protocol_title = titles.get(item.protocol_id, item.protocol_id)  # type: ignore[attr-defined]
    context = {"form": form, "items": items, "in_effect": in_effect, "titles": titles}
    return render(request, "treatments/fees.html", context)


@allow_roles(ROLES.deactivate_fee_item)
@require_http_methods(["GET", "POST"])
def fee_deactivate(request: HttpRequest, item_id: int) -> HttpResponse:
    item = FeeItem.objects.filter(pk=item_id).first()
    if item is None:
        raise Http404("No such fee item")
    error = None
    if request.method == "POST":
        try:
            do_deactivate_fee_item(actor_of(request), item.pk)
        except Refused as problem:
            error = problem.message
        else:
            messages.success(request, f"{item.code} deactivated (kept in the history).")
            return redirect(reverse("treatments:fees"))
    return render(request, "treatments/fee_deactivate.html", {"item": item, "error": error})
