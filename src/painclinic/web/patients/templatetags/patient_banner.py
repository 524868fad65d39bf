"""The one patient banner every staff patient page shows: ``{% patient_banner patient %}``.

``banner_for(patient)`` reads what the banner shows in two queries whatever the record holds
(one row of the patient with correlated subqueries: the current weight, the last recorded
height, the open missing-information items, the first unreported serious adverse event, a
current treatment consent and an allergy recorded at an eligibility decision; then the plan in
progress with its session counts). The tag keeps the result on the request, so a page that
shows the banner twice reads it once.

It lives with the template tags (a presentation module, see tests/test_layers.py) because it
reads the assessments, treatments and infusions that sit above the registry.

Allergies: the registry has no allergy list. The only allergies the record holds are two of
the eligibility facts' comorbidities ("allergy to amide local anaesthetics", a lidocaine
contraindication, and "hypersensitivity to ketamine"); the banner names them when any decision
recorded them and otherwise says allergies are not recorded (a warning).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import template
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from painclinic.clinical import ClinicalInputError
from painclinic.web.assessments.models import ChecklistItem, EligibilityDecision
from painclinic.web.assessments.roles import ROLES as ASSESSMENT_ROLES
from painclinic.web.infusions.models import AdverseEvent, SessionStatus
from painclinic.web.infusions.roles import ROLES as INFUSION_ROLES
from painclinic.web.lib.clinicdate import age_in_years
from painclinic.web.patients.models import Patient, SexAtBirth, WeightMeasurement
from painclinic.web.treatments.models import (
    PlanStatus,
    TreatmentConsent,
    TreatmentConsentDecision,
    TreatmentPlan,
)
from painclinic.web.treatments.roles import ROLES as TREATMENT_ROLES
from painclinic.web.treatments.services import protocol_library

register = template.Library()

# A session whose infusion ran and ended counts as given.
GIVEN_STATUSES = (SessionStatus.STOPPED, SessionStatus.DISCHARGED, SessionStatus.SIGNED)
# The eligibility facts that are allergies (the only allergies the record holds).
ALLERGY_FACTS = {
    "amide_local_anaesthetic_allergy": _("Amide local anaesthetics (e.g. lidocaine)"),
    "ketamine_hypersensitivity": _("Ketamine (hypersensitivity)"),
}


@dataclass(frozen=True)
class BannerAlert:
    text: str
    url: str  # "" when the reader's role cannot open the page where it is fixed


@dataclass(frozen=True)
class BannerPlan:
    drug: str
    protocol: str
    given: int
    total: int
    awaiting_cosign: bool
    url: str


@dataclass(frozen=True)
class Banner:
    patient_id: int
    legal_name: str
    preferred_name: str
    date_of_birth: dt.date
    age: int
    sex: str
    health_card: str  # masked: only the last three digits and the version code
    weight: str  # "72.4 kg", "" when none is recorded
    weighed_on: dt.date | None
    height: str  # "170 cm", "" when none is recorded
    allergies: tuple[str, ...]  # empty: none recorded
    plan: BannerPlan | None
    alerts: tuple[BannerAlert, ...]


def mask_health_card(number: str, version: str) -> str:
    """'1234567890', 'AB' -> '•••• ••• 890 AB' (the full number is never shown)."""
    if not number:
        return ""
    return f"•••• ••• {number[-3:]} {version}".strip()


def _url(name: str, role: str, allowed: Any, **kwargs: int) -> str:
    return reverse(name, kwargs=kwargs) if role in allowed else ""


def banner_for(patient: Patient, role: str = "") -> Banner:
    """Everything the banner shows for ``patient`` (two queries); links only where ``role``
    may go."""
    weights = WeightMeasurement.objects.filter(
        patient=OuterRef("pk"), corrected_by__isnull=True
    ).order_by("-measured_on", "-recorded_at", "-id")
    serious = AdverseEvent.objects.filter(
        session__patient=OuterRef("pk"), serious=True, reported_at__isnull=True
    ).order_by("report_due_at", "id")
    open_items = (
        ChecklistItem.objects.filter(patient=OuterRef("pk"), resolved_at__isnull=True)
        .values("patient")
        .annotate(n=Count("pk"))
        .values("n")
    )
    current_consents = TreatmentConsent.objects.filter(
        patient=OuterRef("pk"),
        decision=TreatmentConsentDecision.GRANTED,
        withdrawal__isnull=True,
    )
    row = (
        Patient.objects.filter(pk=patient.pk)
        .annotate(
            b_weight_kg=Subquery(weights.values("weight_kg")[:1]),
            b_weighed_on=Subquery(weights.values("measured_on")[:1]),
            b_height_cm=Subquery(weights.filter(height_cm__isnull=False).values("height_cm")[:1]),
            b_open_items=Coalesce(Subquery(open_items), 0),
            b_serious_id=Subquery(serious.values("pk")[:1]),
            b_serious_session=Subquery(serious.values("session_id")[:1]),
            b_consented=Exists(current_consents),
            **{
                f"b_allergy_{fact}": Exists(
                    EligibilityDecision.objects.filter(
                        patient=OuterRef("pk"), **{f"facts__comorbidities__{fact}": True}
                    )
                )
                for fact in ALLERGY_FACTS
            },
        )
        .values(
            # Identity from this row, not from ``patient``: a page's hand-built read (the
            # chart's) may have deferred these fields, and each would cost its own query.
            "legal_given_name",
            "legal_family_name",
            "preferred_name",
            "date_of_birth",
            "sex_at_birth",
            "health_card_number",
            "health_card_version",
            "b_weight_kg",
            "b_weighed_on",
            "b_height_cm",
            "b_open_items",
            "b_serious_id",
            "b_serious_session",
            "b_consented",
            *(f"b_allergy_{fact}" for fact in ALLERGY_FACTS),
        )
        .get()
    )
    plan_row = (
        TreatmentPlan.objects.filter(
            patient=patient, status__in=(PlanStatus.ACTIVE, PlanStatus.AWAITING_COSIGN)
        )
        .annotate(
            total=Count("sessions", distinct=True),
            given=Count(
                "infusion_sessions",
                filter=Q(infusion_sessions__status__in=GIVEN_STATUSES),
                distinct=True,
            ),
            consented=Exists(
                TreatmentConsent.objects.filter(
                    patient=OuterRef("patient"),
                    drug=OuterRef("drug"),
                    protocol_id=OuterRef("protocol_id"),
                    decision=TreatmentConsentDecision.GRANTED,
                    withdrawal__isnull=True,
                )
            ),
        )
        .order_by("-prescribed_at", "-id")
        .values("pk", "drug", "protocol_id", "status", "total", "given", "consented")
        .first()
    )
    plan = None
    consented = bool(row["b_consented"])
    if plan_row is not None:
        plan = BannerPlan(
            drug=str(dict(TreatmentPlan._meta.get_field("drug").flatchoices)[plan_row["drug"]]),
            protocol=_protocol_title(plan_row["protocol_id"]),
            given=plan_row["given"],
            total=plan_row["total"],
            awaiting_cosign=plan_row["status"] == PlanStatus.AWAITING_COSIGN,
            url=_url("treatments:plan", role, TREATMENT_ROLES.view_plan, plan_id=plan_row["pk"]),
        )
        consented = bool(plan_row["consented"])
    alerts = []
    if row["b_open_items"]:
        n = row["b_open_items"]
        alerts.append(
            BannerAlert(
                f"Missing information: {n} open item{'s' if n != 1 else ''}",
                _url(
                    "assessments:patient",
                    role,
                    ASSESSMENT_ROLES.view_patient,
                    patient_id=patient.pk,
                ),
            )
        )
    if row["b_serious_id"]:
        url = _url(
            "infusions:mark_reported",
            role,
            INFUSION_ROLES.mark_adverse_event_reported,
            event_id=row["b_serious_id"],
        ) or _url(
            "infusions:session",
            role,
            INFUSION_ROLES.view_chart,
            session_id=row["b_serious_session"],
        )
        alerts.append(BannerAlert("Serious adverse event not yet reported", url))
    if not consented:
        text = (
            "No current consent to this plan's treatment"
            if plan is not None
            else "No current treatment consent"
        )
        url = _url(
            "treatments:consent_new",
            role,
            TREATMENT_ROLES.record_treatment_consent,
            patient_id=patient.pk,
        ) or _url("treatments:patient", role, TREATMENT_ROLES.view_patient, patient_id=patient.pk)
        alerts.append(BannerAlert(text, url))
    born = row["date_of_birth"]
    return Banner(
        patient_id=patient.pk,
        legal_name=f"{row['legal_family_name'].upper()}, {row['legal_given_name']}",
        preferred_name=row["preferred_name"],
        date_of_birth=born,
        age=age_in_years(born, timezone.localdate()),
        sex=str(SexAtBirth(row["sex_at_birth"]).label)
        if row["sex_at_birth"] in SexAtBirth.values
        else "",
        health_card=mask_health_card(row["health_card_number"], row["health_card_version"]),
        weight=_measure(row["b_weight_kg"], "kg"),
        weighed_on=row["b_weighed_on"],
        height=_measure(row["b_height_cm"], "cm"),
        allergies=tuple(
            str(label) for fact, label in ALLERGY_FACTS.items() if row[f"b_allergy_{fact}"]
        ),
        plan=plan,
        alerts=tuple(alerts),
    )


def _measure(value: Decimal | None, unit: str) -> str:
    """72.40 -> '72.4 kg', 80.0 -> '80 kg' (no trailing zero, no exponent)."""
    if value is None:
        return ""
    text = f"{Decimal(value):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {unit}"


def _protocol_title(protocol_id: str) -> str:
    try:
        return str(protocol_library().get(protocol_id).title)
    except ClinicalInputError:  # a protocol since removed from the library: no id on the page
        return "a protocol no longer in the library"


@register.inclusion_tag("patients/_banner.html", takes_context=True)
def patient_banner(context: template.Context, patient: Patient) -> dict[str, Any]:
    """The banner for ``patient``, read once per request."""
    request = context.get("request")
    user = getattr(request, "user", None)
    role = str(getattr(user, "role", "") or "")
    cache: dict[tuple[int, str], Banner] = {}
    if request is not None:
        cache = request.__dict__.setdefault("_patient_banners", {})
    key = (patient.pk, role)
    if key not in cache:
        cache[key] = banner_for(patient, role)
    return {"banner": cache[key]}
