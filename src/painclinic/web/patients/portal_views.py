"""The patient's own pages.

They never take a patient id; a consent id is checked against its owner.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from painclinic.web.accounts.permissions import allow_roles
from painclinic.web.audit.models import Action as AuditAction
from painclinic.web.audit.models import AuditEvent
from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.followup.portal import (
    due_questionnaires,
    pain_trajectory,
    preparation,
    upcoming_appointments,
)
from painclinic.web.lib.clinictime import to_local
from painclinic.web.lib.http import actor_of
from painclinic.web.patients.access import get_consent_for, get_own_patient
from painclinic.web.patients.roles import ROLES
from painclinic.web.patients.services import current_consents, latest_weight


@allow_roles(ROLES.portal)
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    patient = get_own_patient(actor_of(request))
    now = timezone.now()
    audit(
        actor_of(request),
        category=Category.DEMOGRAPHICS,
        action=Action.VIEW,
        patient=patient,
        obj=patient,
    )
    context = {
        "patient": patient,
        "consents": current_consents(patient),
        "weight": latest_weight(patient),
        # Follow-up: questionnaires to complete, the next appointments with how to prepare,
        # and the patient's own pain over time.
        "due": due_questionnaires(patient, to_local(now).date()),
        "appointments": upcoming_appointments(patient, now),
        "prep": preparation(),
        "trajectory": pain_trajectory(patient),
    }
    return render(request, "portal/home.html", context)


@allow_roles(ROLES.portal)
@require_safe
def consent_detail(request: HttpRequest, consent_id: int) -> HttpResponse:
    consent = get_consent_for(actor_of(request), consent_id)
    return render(request, "portal/consent.html", {"consent": consent})


@allow_roles(ROLES.portal)
@require_safe
def access_log(request: HttpRequest) -> HttpResponse:
    """Who viewed or changed my record (PHIPA access-log transparency)."""
    patient = get_own_patient(actor_of(request))
    audit(actor_of(request), category=Category.ACCESS_LOG, action=Action.VIEW, patient=patient)
    events = (
        AuditEvent.objects.filter(patient=patient)
        .exclude(action=AuditAction.ACCESS_DENIED)
        .order_by("-sequence")[:200]
    )
    return render(request, "portal/access_log.html", {"patient": patient, "events": events})
