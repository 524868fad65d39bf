from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from painclinic import clinical
from painclinic.web.accounts.models import CLINICAL_ROLES
from painclinic.web.accounts.permissions import allow_roles
from painclinic.web.assessments.forms import COMORBIDITY_LABELS
from painclinic.web.assessments.models import Assessment, EligibilityDecision
from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.followup.models import FollowUpResponse, ResponseStatus
from painclinic.web.lib.http import acting_user, actor_of
from painclinic.web.lib.service import Refused
from painclinic.web.patients.access import get_patient_for
from painclinic.web.patients.forms import (
    ConsentForm,
    PatientForm,
    RegistrationForm,
    SearchForm,
    WeightCorrectionForm,
    WeightForm,
)
from painclinic.web.patients.models import Patient, WeightMeasurement
from painclinic.web.patients.roles import ROLES
from painclinic.web.patients.search import MAX_RESULTS, search_patients
from painclinic.web.patients.services import (
    EditConflict,
    do_correct_weight,
    do_record_consent,
    do_record_weight,
    do_register_patient,
    do_update_patient,
    latest_of_each_kind,
    latest_weight,
)
from painclinic.web.scheduling.models import Booking, BookingStatus


@allow_roles(ROLES.search)
@require_safe
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    results = None
    truncated = False
    if form.is_valid() and form.cleaned_data["q"]:
        query = form.cleaned_data["q"]
        found = list(search_patients(query)[: MAX_RESULTS + 1])
        truncated = len(found) > MAX_RESULTS
        results = found[:MAX_RESULTS]
        audit(
            actor_of(request),
            category=Category.DEMOGRAPHICS,
            action=Action.SEARCH,
            detail={"query": query, "patient_ids": [p.pk for p in results]},
        )
    context = {
        "form": form,
        "results": results,
        "truncated": truncated,
        "max": MAX_RESULTS,
        # One reverse() for the page instead of one per row.
        "detail_prefix": reverse("patients:detail", kwargs={"patient_id": 0})[:-2],
    }
    return render(request, "patients/search.html", context)


@allow_roles(ROLES.register_patient)
@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        patient = do_register_patient(
            actor_of(request), form.to_demographics(), form.to_first_weight()
        )
        messages.success(request, f"{patient.full_name} registered.")
        return redirect("patients:detail", patient_id=patient.pk)
    return render(request, "patients/form.html", {"form": form, "title": "Register a patient"})


@dataclass(frozen=True)
class Score:
    value: str  # "7", "12 (moderate)"
    on: dt.date
    source: str  # "assessment" or "follow-up questionnaire"


@dataclass(frozen=True)
class ClinicalSummary:
    problems: tuple[str, ...]
    medications: tuple[str, ...]
    recorded_on: dt.date | None  # the eligibility decision the problems and medications are from
    nrs: Score | None
    phq9: Score | None


def _score(score: float | None, band: str) -> str:
    text = f"{score:g}" if score is not None else "no score"
    return f"{text} ({band.replace('_', ' ')})" if band else text


def _latest_score(patient: Patient, instrument: str) -> Score | None:
    """The newer of the latest current assessment and the latest submitted follow-up answer."""
    found: list[tuple[dt.datetime, float | None, str, str]] = []
    assessment = (
        Assessment.objects.filter(
            patient=patient, instrument=instrument, superseded_by__isnull=True
        )
        .order_by("-completed_at", "-id")
        .values("score", "band", "completed_at")
        .first()
    )
    if assessment:
        found.append(
            (assessment["completed_at"], assessment["score"], assessment["band"], "assessment")
        )
    response = (
        FollowUpResponse.objects.filter(
            patient=patient, instrument=instrument, status=ResponseStatus.SUBMITTED
        )
        .order_by("-submitted_at", "-id")
        .values("score", "band", "submitted_at")
        .first()
    )
    if response and response["submitted_at"] is not None:
        found.append(
            (
                response["submitted_at"],
                response["score"],
                response["band"],
                "follow-up questionnaire",
            )
        )
    if not found:
        return None
    at, score, band, source = max(found, key=lambda f: f[0])
    return Score(_score(score, band), timezone.localdate(at), source)


def _condition_name(condition_id: str) -> str:
    try:
        return str(clinical.load_conditions().get(condition_id).name)
    except clinical.ClinicalInputError:  # a condition since removed from the catalogue
        return "a condition no longer in the catalogue"


def clinical_summary(patient: Patient) -> ClinicalSummary:
    """Problems and medicines from the latest eligibility decision, the latest NRS and PHQ-9
    (five queries whatever the record holds)."""
    decision = (
        EligibilityDecision.objects.filter(patient=patient)
        .order_by("-decided_at", "-id")
        .values("facts", "condition", "decided_at")
        .first()
    )
    problems: list[str] = []
    medications: list[str] = []
    recorded_on = None
    if decision:
        facts: dict[str, Any] = decision["facts"] or {}
        recorded_on = timezone.localdate(decision["decided_at"])
        problems.append(_condition_name(decision["condition"]))
        comorbidities = facts.get("comorbidities") or {}
        problems += [
            COMORBIDITY_LABELS.get(key, key.replace("_", " ").capitalize())
            for key, present in comorbidities.items()
            if present
        ]
        for line in facts.get("current_medications") or []:
            medications.append(str(line["text"] if isinstance(line, dict) else line))
    return ClinicalSummary(
        problems=tuple(problems),
        medications=tuple(medications),
        recorded_on=recorded_on,
        nrs=_latest_score(patient, "nrs"),
        phq9=_latest_score(patient, "phq9"),
    )


def next_booking(patient: Patient) -> Booking | None:
    return (
        Booking.objects.filter(
            patient=patient, status=BookingStatus.BOOKED, starts_at__gte=timezone.now()
        )
        .select_related("chair")
        .order_by("starts_at", "id")
        .first()
    )


@allow_roles(ROLES.view_patient)
@require_safe
def detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for(actor_of(request), patient_id)
    weights = list(
        WeightMeasurement.objects.filter(patient=patient)
        .select_related("recorded_by", "correction_of")
        .prefetch_related("corrected_by")
        .order_by("-measured_on", "-recorded_at", "-id")[:20]
    )
    corrected_ids = {w.correction_of_id for w in weights if w.correction_of_id}
    current = next((w for w in weights if w.pk not in corrected_ids), None)
    # One read of the consents (newest first) gives both the latest of each kind and the list.
    consents = list(patient.consents.select_related("recorded_by"))
    context = {
        "patient": patient,
        "weights": weights,
        "corrected_ids": corrected_ids,
        "current_weight": current,
        "consents": latest_of_each_kind(consents),
        "consent_history": consents[:20],
        "revision_count": patient.revisions.count(),
        "can_edit": acting_user(request).role in ROLES.update_patient,
        "can_weigh": acting_user(request).role in ROLES.record_weight,
        # Diagnoses, medicines and scores are clinical: the clinicians see them.
        "summary": clinical_summary(patient)
        if acting_user(request).role in CLINICAL_ROLES
        else None,
        "next_booking": next_booking(patient),
    }
    return render(request, "patients/detail.html", context)


@allow_roles(ROLES.update_patient)
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for(actor_of(request), patient_id, detail={"purpose": "edit"})
    form = PatientForm(request.POST or None, instance=patient)
    conflict = None
    if request.method == "POST" and form.is_valid():
        expected = form.cleaned_data.get("expected_version") or 0
        try:
            do_update_patient(actor_of(request), patient.pk, expected, form.to_demographics())
        except EditConflict as error:
            conflict = error
        else:
            messages.success(request, "Changes saved.")
            return redirect("patients:detail", patient_id=patient.pk)
    title = f"Edit {patient.full_name}"
    return render(
        request,
        "patients/form.html",
        {"form": form, "title": title, "patient": patient, "conflict": conflict},
        status=409 if conflict else 200,
    )


@allow_roles(ROLES.view_history)
@require_safe
def history(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for(actor_of(request), patient_id, detail={"purpose": "history"})
    revisions = patient.revisions.select_related("changed_by")
    return render(request, "patients/history.html", {"patient": patient, "revisions": revisions})


@allow_roles(ROLES.record_weight)
@require_http_methods(["GET", "POST"])
def weight_add(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for(actor_of(request), patient_id, category=Category.WEIGHT)
    form = WeightForm(request.POST or None, last_weight=latest_weight(patient))
    if request.method == "POST" and form.is_valid():
        try:
            do_record_weight(actor_of(request), patient, form.to_entry())
        except Refused as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(request, "Weight recorded.")
            return redirect("patients:detail", patient_id=patient.pk)
    context = {"form": form, "patient": patient, "title": "Record weight", "last": form.last_weight}
    return render(request, "patients/weight_form.html", context)


@allow_roles(ROLES.correct_weight)
@require_http_methods(["GET", "POST"])
def weight_correct(request: HttpRequest, patient_id: int, weight_id: int) -> HttpResponse:
    patient = get_patient_for(actor_of(request), patient_id, category=Category.WEIGHT)
    original = WeightMeasurement.objects.filter(pk=weight_id, patient=patient).first()
    if original is None:
        raise Http404("No such weight")
    previous = (
        WeightMeasurement.objects.filter(patient=patient, corrected_by__isnull=True)
        .exclude(pk=original.pk)
        .order_by("-measured_on", "-recorded_at", "-id")
        .first()
    )
    form = WeightCorrectionForm(
        request.POST or None,
        last_weight=previous,
        initial={"measured_on": original.measured_on, "height_cm": original.height_cm},
    )
    if request.method == "POST" and form.is_valid():
        try:
            do_correct_weight(
                actor_of(request),
                original,
                form.to_entry(),
                form.cleaned_data["correction_reason"],
            )
        except Refused as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(request, "Correction saved; the original entry stays in the history.")
            return redirect("patients:detail", patient_id=patient.pk)
    context = {
        "form": form,
        "patient": patient,
        "title": f"Correct the weight of {original.measured_on:%Y-%m-%d} ({original.weight_kg} kg)",
        "last": previous,
    }
    return render(request, "patients/weight_form.html", context)


@allow_roles(ROLES.record_consent)
@require_http_methods(["GET", "POST"])
def consent_add(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient_for(actor_of(request), patient_id, category=Category.CONSENT)
    form = ConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            do_record_consent(actor_of(request), patient, form.to_entry())
        except Refused as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(request, "Consent recorded.")
            return redirect("patients:detail", patient_id=patient.pk)
    return render(request, "patients/consent_form.html", {"form": form, "patient": patient})
