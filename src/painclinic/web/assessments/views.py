"""Assessment and eligibility pages: parse, call a service, render."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from painclinic import clinical
from painclinic.web.accounts.permissions import allow_roles
from painclinic.web.assessments import services
from painclinic.web.assessments.forms import (
    CorrectionForm,
    CosignEligibilityForm,
    DecisionForm,
    FactsForm,
    InstrumentForm,
    PriorTreatmentFormSet,
    ResolveChecklistForm,
    get_path,
    humanize,
    initial_from_facts,
    known_treatments,
    treatments_initial,
)
from painclinic.web.assessments.models import (
    BASELINE_INSTRUMENTS,
    CRITERIA_INSTRUMENTS,
    FORM_INSTRUMENTS,
    Assessment,
    ChecklistItem,
    EligibilityDecision,
)
from painclinic.web.assessments.roles import ROLES
from painclinic.web.audit.services import Action, Outcome, audit
from painclinic.web.lib.http import acting_user, actor_of
from painclinic.web.lib.service import Refused
from painclinic.web.patients.access import get_patient_for
from painclinic.web.patients.models import Patient
from painclinic.web.patients.services import latest_weight

REASON_GROUPS = (
    ("absolute_contraindications", "Absolute contraindications", "absolute"),
    ("relative_contraindications", "Cautions (relative contraindications)", "caution"),
    ("interactions", "Interactions with current medicines", "caution"),
    ("missing_information", "Missing information (becomes a checklist item)", "missing"),
    ("stepped_care_gaps", "Stepped-care gaps (first-line treatment not adequately tried)", "gap"),
)


def _patient(request: HttpRequest, patient_id: int, area: str, **detail: Any) -> Patient:
    return get_patient_for(
        actor_of(request),
        patient_id,
        category=(
            services.ELIGIBILITY_CATEGORY if area == "eligibility" else services.ASSESSMENT_CATEGORY
        ),
        detail={"area": area, **detail},
    )


def _object_of[ModelT: models.Model](
    request: HttpRequest, model: type[ModelT], pk: int, patient: Patient, name: str
) -> ModelT:
    """An object found by its id must belong to the patient in the URL: else 404, audited."""
    found = model._default_manager.filter(pk=pk, patient=patient).first()
    if found is None:
        audit(
            actor_of(request),
            category=services.ASSESSMENT_CATEGORY,
            action=Action.ACCESS_DENIED,
            outcome=Outcome.DENIED,
            patient=patient,
            detail={"object_type": name, "object_id": str(pk), "path": request.path},
        )
        raise Http404("No such record")
    return found


# Units at the end of a fact's name, as a person writes them.
_UNIT_WORDS = {
    "years": "years",
    "months": "months",
    "weeks": "weeks",
    "kg": "kg",
    "cm": "cm",
    "mmhg": "mmHg",
    "per_min": "/min",
    "percent": "%",
    "mg": "mg",
    "h": "h",
    "iu_per_l": "IU/L",
    "umol_per_l": "µmol/L",
}


def _fact_label(key: str) -> str:
    """``systolic_mmhg`` -> "Systolic (mmHg)": a recorded fact's name as a person reads it."""
    for suffix, unit in sorted(_UNIT_WORDS.items(), key=lambda item: -len(item[0])):
        if key.endswith("_" + suffix):
            words = key[: -len(suffix) - 1].replace("_", " ")
            return f"{words[:1].upper()}{words[1:]} ({unit})"
    words = key.replace("_", " ")
    return words[:1].upper() + words[1:]


def _fact_value(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "not recorded"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(_fact_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{_fact_label(k).lower()}: {_fact_value(v)}" for k, v in value.items())
    if isinstance(value, str):
        return value.replace("_", " ")
    return str(value)


def facts_rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    """The facts a decision rests on, one row a fact (nested groups one row each part), in
    words: no JSON and no internal key names on the page."""
    rows: list[tuple[str, str]] = []
    for key, value in facts.items():
        if isinstance(value, dict) and value:
            for inner, inner_value in value.items():
                rows.append(
                    (f"{_fact_label(key)} — {_fact_label(inner).lower()}", _fact_value(inner_value))
                )
        else:
            rows.append((_fact_label(key), _fact_value(value)))
    return rows


def _banner(patient: Patient) -> dict[str, Any]:
    return {
        "patient": patient,
        "weight": latest_weight(patient),
        "age_years": services.age_in_years(patient.date_of_birth, services.clinic_today()),
    }


def _title(instrument: str) -> str:
    return clinical.get_instrument(instrument).title


@allow_roles(ROLES.view_patient)
@require_safe
def patient_assessments(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient(request, patient_id, "assessment")
    history = list(
        Assessment.objects.filter(patient=patient)
        .select_related("completed_by")
        .order_by("-completed_at", "-id")[:100]
    )
    titles = {name: _title(name) for name in FORM_INSTRUMENTS}
    for a in _labelled(history):
        a.title = titles.get(a.instrument, a.instrument)  # type: ignore[attr-defined]
    superseded_ids = {a.supersedes_id for a in history if a.supersedes_id}
    current = [a for a in history if a.pk not in superseded_ids]
    latest_phq9 = next((a for a in current if a.instrument == "phq9"), None)
    checklist = list(
        ChecklistItem.objects.filter(patient=patient).select_related(
            "resolved_by", "source_decision"
        )
    )
    decisions = {
        drug: services.latest_eligibility_decision(patient, drug) for drug in services.DRUGS
    }
    context = {
        **_banner(patient),
        "history": history,
        "superseded_ids": superseded_ids,
        "criteria_links": [(n, _title(n)) for n in CRITERIA_INSTRUMENTS],
        "baseline_links": [(n, _title(n)) for n in BASELINE_INSTRUMENTS],
        "self_harm": latest_phq9 if latest_phq9 and latest_phq9.self_harm_risk else None,
        "nrs_trend": services.trend(patient, "nrs"),
        "phq9_trend": _labelled(services.trend(patient, "phq9")),
        "open_items": [i for i in checklist if i.is_open],
        "resolved_items": [i for i in checklist if not i.is_open],
        "decisions": decisions,
        "is_physician": acting_user(request).role in ROLES.record_eligibility,
    }
    return render(request, "assessments/patient.html", context)


def met_display(assessment: Assessment) -> tuple[str, str, str]:
    """(heading, text, css class) for the ``met`` of a result: criteria met or not for the
    diagnostic and screening instruments; for the PHQ-9 a positive or negative screen."""
    if assessment.met is None:
        return ("", "", "")
    if assessment.instrument == "phq9":
        if assessment.met:
            return ("Depression screen", "Positive (total 10 or more)", "screen-positive")
        return ("Depression screen", "Negative (total below 10)", "screen-negative")
    if assessment.met:
        return ("Criteria", "Met", "met")
    return ("Criteria", "Not met", "not-met")


def _labelled(rows: list[Assessment]) -> list[Assessment]:
    for a in rows:
        a.band_label = humanize(a.band) if a.band else ""  # type: ignore[attr-defined]
        a.met_heading, a.met_text, a.met_class = met_display(a)  # type: ignore[attr-defined]
    return rows


def _instrument_or_404(instrument: str) -> str:
    if instrument not in FORM_INSTRUMENTS:
        raise Http404("No such instrument")
    return instrument


def _form_context(patient: Patient, form: InstrumentForm, **extra: Any) -> dict[str, Any]:
    return {
        **_banner(patient),
        "form": form,
        "template": form.template,
        "title": form.template.title,
        "sources": [clinical.SOURCES[k].citation for k in form.template.sources],
        **extra,
    }


@allow_roles(ROLES.record_assessment)
@require_http_methods(["GET", "POST"])
def new_assessment(request: HttpRequest, patient_id: int, instrument: str) -> HttpResponse:
    instrument = _instrument_or_404(instrument)
    patient = _patient(request, patient_id, "assessment", instrument=instrument)
    form = InstrumentForm(request.POST or None, instrument=instrument)
    if request.method == "POST" and form.is_valid():
        try:
            assessment = services.do_record_assessment(
                actor_of(request), patient, instrument, form.answers()
            )
        except clinical.ClinicalInputError as error:
            form.add_error(form.error_field(error.field), error.message)
        else:
            messages.success(request, f"{_title(instrument)} recorded.")
            return redirect(
                "assessments:result", patient_id=patient.pk, assessment_id=assessment.pk
            )
    return render(request, "assessments/form.html", _form_context(patient, form))


@allow_roles(ROLES.record_assessment)
@require_http_methods(["GET", "POST"])
def correct_assessment(request: HttpRequest, patient_id: int, assessment_id: int) -> HttpResponse:
    patient = _patient(request, patient_id, "assessment", assessment_id=assessment_id)
    original = _object_of(request, Assessment, assessment_id, patient, "assessment")
    if Assessment.objects.filter(supersedes=original).exists():
        messages.error(
            request, "This assessment has already been corrected; correct the newer one."
        )
        return redirect("assessments:result", patient_id=patient.pk, assessment_id=original.pk)
    form = CorrectionForm(
        request.POST or None, instrument=original.instrument, answers=original.answers
    )
    if request.method == "POST" and form.is_valid():
        try:
            assessment = services.do_record_assessment(
                actor_of(request),
                patient,
                original.instrument,
                form.answers(),
                supersedes=original,
                correction_reason=form.cleaned_data["correction_reason"],
            )
        except clinical.ClinicalInputError as error:
            form.add_error(form.error_field(error.field), error.message)
        except Refused as error:
            form.add_error(error.field, error.message)
        else:
            messages.success(request, "Correction saved; the original stays in the history.")
            return redirect(
                "assessments:result", patient_id=patient.pk, assessment_id=assessment.pk
            )
    return render(
        request, "assessments/form.html", _form_context(patient, form, correcting=original)
    )


def _answer_rows(assessment: Assessment) -> list[tuple[str, list[tuple[str, str]]]]:
    """The stored answers with the form's labels, grouped like the form."""
    form = InstrumentForm(instrument=assessment.instrument)
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for item in form.items:
        try:
            value = get_path(assessment.answers, item.key)
        except (KeyError, IndexError, TypeError):
            value = None
        choices = dict(getattr(form.fields[item.name], "choices", []) or [])
        if isinstance(value, bool):
            shown = "Yes" if value else "No"
        elif value is None:
            shown = "Not answered"
        elif str(value) in choices:
            shown = str(choices[str(value)])
        else:
            shown = humanize(str(value))
        if not groups or groups[-1][0] != item.group:
            groups.append((item.group, []))
        groups[-1][1].append((item.label, shown))
    return groups


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(humanize(str(v)) for v in value) or "none"
    return humanize(str(value))


@allow_roles(ROLES.view_result)
@require_safe
def result(request: HttpRequest, patient_id: int, assessment_id: int) -> HttpResponse:
    patient = _patient(request, patient_id, "assessment", assessment_id=assessment_id)
    assessment = _object_of(request, Assessment, assessment_id, patient, "assessment")
    corrected_by = Assessment.objects.filter(supersedes=assessment).first()
    details = (assessment.result or {}).get("details") or {}
    met_heading, met_text, met_class = met_display(assessment)
    context = {
        **_banner(patient),
        "met_heading": met_heading,
        "met_text": met_text,
        "met_class": met_class,
        "assessment": assessment,
        "title": _title(assessment.instrument),
        "reasons": assessment.result.get("reasons", []),
        "details": [(humanize(k), _shown(v)) for k, v in details.items()],
        "band_label": humanize(assessment.band) if assessment.band else "",
        "answers": _answer_rows(assessment),
        "corrected_by": corrected_by,
    }
    return render(request, "assessments/result.html", context)


# --- eligibility ----------------------------------------------------------------------------


def _drug_view(drug_result: dict[str, Any]) -> dict[str, Any]:
    """The engine's result for one drug, grouped for display with each source's citation."""
    groups = []
    for key, title, tone in REASON_GROUPS:
        entries = []
        for reason in drug_result.get(key, []):
            entries.append(
                {
                    **reason,
                    "citations": [
                        clinical.SOURCES[s].citation if s in clinical.SOURCES else s
                        for s in reason.get("sources", [])
                    ],
                    "text": reason.get("message") or reason.get("option", ""),
                }
            )
        groups.append({"key": key, "title": title, "tone": tone, "entries": entries})
    return {
        "drug": drug_result["drug"],
        "status": drug_result["status"],
        "status_label": humanize(drug_result["status"]),
        "groups": groups,
    }


def _facts_forms(
    request: HttpRequest, patient: Patient
) -> tuple[FactsForm, Any, dict[str, Any] | None]:
    previous = EligibilityDecision.objects.filter(patient=patient).order_by("-decided_at", "-id")
    last = previous.first()
    last_facts = last.facts if last else None
    if request.method == "POST":
        return FactsForm(request.POST), PriorTreatmentFormSet(request.POST, prefix="prior"), None
    initial = initial_from_facts(last_facts) if last_facts else {}
    return (
        FactsForm(initial=initial),
        PriorTreatmentFormSet(initial=treatments_initial(last_facts), prefix="prior"),
        last_facts,
    )


@allow_roles(ROLES.record_eligibility)
@require_http_methods(["GET", "POST"])
def eligibility(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = _patient(request, patient_id, "eligibility")
    facts_form, treatments, last_facts = _facts_forms(request, patient)
    action = request.POST.get("action", "")
    engine: dict[str, Any] | None = None
    facts: dict[str, Any] | None = None
    recorded = None
    decision_form: DecisionForm | None = None
    if request.method == "POST" and facts_form.is_valid() and treatments.is_valid():
        rows = [f.to_input() for f in treatments.forms]
        entry = facts_form.to_input([r for r in rows if r is not None])
        try:
            facts, recorded = services.build_facts(patient, entry)
            engine = services.evaluate(facts).to_dict()
        except clinical.ClinicalInputError as error:
            facts_form.add_error(None, f"{error.field}: {error.message}")
            engine = None
        if engine is not None:
            # Re-offer the rows as entered plus fresh empty ones for more treatments.
            treatments = PriorTreatmentFormSet(
                initial=treatments_initial(
                    {"prior_treatments": [t.as_fact() for t in entry.prior_treatments]}
                ),
                prefix="prior",
            )
            seen = {d: engine[d]["status"] for d in services.DRUGS}
            if action == "record":
                decision_form = DecisionForm(request.POST, seen=seen)
                if decision_form.is_valid():
                    try:
                        saved = services.do_record_eligibility(
                            actor_of(request), patient, entry, decision_form.choices()
                        )
                    except Refused as error:
                        decision_form.add_error(error.field, error.message)
                    else:
                        messages.success(request, "Eligibility decision recorded.")
                        for d in saved:
                            if d.awaiting_cosign:
                                messages.warning(
                                    request,
                                    f"{d.get_drug_display()}: you overrode an absolute "
                                    "contraindication. A second physician must co-sign the "
                                    "decision before a plan can be made.",
                                )
                        return redirect("assessments:patient", patient_id=patient.pk)
            else:
                decision_form = DecisionForm(seen=seen)
    if recorded is None:
        condition = facts_form["condition"].value() or "crps_1"
        try:
            recorded = services.recorded_facts(patient, str(condition))
        except clinical.ClinicalInputError:
            recorded = services.recorded_facts(patient, "crps_1")
    context = {
        **_banner(patient),
        "facts_form": facts_form,
        "treatments": treatments,
        "known_treatments": known_treatments(),
        "recorded": recorded,
        "engine": engine,
        "drugs": [_drug_view(engine[d]) for d in services.DRUGS] if engine else [],
        "policy_versions": engine["policy_versions"] if engine else {},
        "condition_name": _condition_name(engine["condition"]) if engine else "",
        "decision_form": decision_form,
        "prefilled": last_facts is not None,
        "facts_json": facts,
        "medications": engine["medications"] if engine else [],
    }
    return render(request, "assessments/eligibility.html", context)


def _condition_name(condition_id: str) -> str:
    try:
        return clinical.load_conditions().get(condition_id).name
    except clinical.ClinicalInputError:  # a condition since removed from the catalogue
        return condition_id


@allow_roles(ROLES.view_decision)
@require_safe
def decision(request: HttpRequest, patient_id: int, decision_id: int) -> HttpResponse:
    patient = _patient(request, patient_id, "eligibility", decision_id=decision_id)
    found = _object_of(request, EligibilityDecision, decision_id, patient, "eligibilitydecision")
    context = {
        **_banner(patient),
        "decision": found,
        "drug": _drug_view(found.engine_result),
        "items": list(found.checklist_items.select_related("resolved_by")),
        "facts_rows": facts_rows(found.facts),
        "condition_name": _condition_name(found.condition),
        "medications": _medications_of(found.facts),
        "cosign_form": _cosign_form(request, found),
    }
    return render(request, "assessments/decision.html", context)


def _medications_of(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Each medicine line of a decision's facts with the ingredients it was coded to."""
    out = []
    for m in facts.get("current_medications") or []:
        if isinstance(m, dict):
            out.append({"text": m["text"], "ingredients": ", ".join(m.get("ingredients") or [])})
        else:
            out.append({"text": m, "ingredients": ""})
    return out


def _cosign_form(request: HttpRequest, found: EligibilityDecision) -> CosignEligibilityForm | None:
    user = acting_user(request)
    if not found.awaiting_cosign or user.role not in ROLES.cosign_eligibility:
        return None
    if found.decided_by_id == user.pk:
        return None
    return CosignEligibilityForm(initial={"expected_version": found.version})


@allow_roles(ROLES.cosign_eligibility)
@require_http_methods(["GET", "POST"])
def cosign_decision(request: HttpRequest, patient_id: int, decision_id: int) -> HttpResponse:
    patient = _patient(request, patient_id, "eligibility", decision_id=decision_id)
    found = _object_of(request, EligibilityDecision, decision_id, patient, "eligibilitydecision")
    if request.method == "GET":  # the co-signature form lives on the decision page
        return redirect("assessments:decision", patient_id=patient.pk, decision_id=found.pk)
    form = CosignEligibilityForm(request.POST)
    if form.is_valid():
        try:
            services.do_cosign_eligibility(
                actor_of(request),
                found.pk,
                form.cleaned_data["expected_version"],
                form.cleaned_data["note"],
            )
        except Refused as error:
            form.add_error(error.field if error.field == "note" else None, error.message)
        else:
            messages.success(request, "Override co-signed: the decision now holds.")
            return redirect("assessments:decision", patient_id=patient.pk, decision_id=found.pk)
    found.refresh_from_db()
    context = {
        **_banner(patient),
        "decision": found,
        "drug": _drug_view(found.engine_result),
        "items": list(found.checklist_items.select_related("resolved_by")),
        "facts_rows": facts_rows(found.facts),
        "condition_name": _condition_name(found.condition),
        "medications": _medications_of(found.facts),
        "cosign_form": form,
    }
    return render(request, "assessments/decision.html", context, status=400)


@allow_roles(ROLES.resolve_checklist_item)
@require_http_methods(["GET", "POST"])
def resolve_item(request: HttpRequest, patient_id: int, item_id: int) -> HttpResponse:
    patient = _patient(request, patient_id, "checklist", item_id=item_id)
    item = _object_of(request, ChecklistItem, item_id, patient, "checklistitem")
    form = ResolveChecklistForm(request.POST or None, initial={"expected_version": item.version})
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            services.do_resolve_checklist_item(
                actor_of(request),
                item,
                form.cleaned_data["note"],
                form.cleaned_data["expected_version"],
            )
        except services.ChecklistConflict as error:
            conflict = error.current
        except Refused as error:
            form.add_error("note", error.message)
        else:
            messages.success(request, "Checklist item resolved.")
            return redirect("assessments:patient", patient_id=patient.pk)
    context = {**_banner(patient), "item": item, "form": form, "conflict": conflict}
    return render(request, "assessments/resolve.html", context, status=409 if conflict else 200)
