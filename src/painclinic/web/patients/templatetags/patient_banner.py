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
contraindication, and "hypersensitivity to ketamine"); the banner names them when the latest
decision recorded them and otherwise says allergies are not recorded (a warning).
"""

# ruff: noqa: S608 - the SQL below is built from the models' _meta identifiers (quoted by the
# connection); every value is a query parameter.
from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import template
from django.db import connection
from django.db.models import Model
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from painclinic.clinical import ClinicalInputError
from painclinic.web.assessments.models import ChecklistItem, EligibilityDecision
from painclinic.web.assessments.roles import ROLES as ASSESSMENT_ROLES
from painclinic.web.infusions.models import AdverseEvent, InfusionSession, SessionStatus
from painclinic.web.infusions.roles import ROLES as INFUSION_ROLES
from painclinic.web.lib.clinicdate import age_in_years
from painclinic.web.patients.models import Patient, SexAtBirth, WeightMeasurement
from painclinic.web.treatments.models import (
    PlannedSession,
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
# The plan shown: the newest that is not cancelled.
PLAN_STATUSES = (PlanStatus.ACTIVE, PlanStatus.AWAITING_COSIGN, PlanStatus.COMPLETED)
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
    completed: bool
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


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _col(model: type[Model], name: str) -> str:
    column = getattr(model._meta.get_field(name), "column", None)
    assert isinstance(column, str), name
    return connection.ops.quote_name(column)


@functools.cache
def _sql(vendor: str) -> tuple[str, str]:
    """The banner's two statements, built once from the models' metadata (the ORM's compile
    of these correlated subqueries cost more than running them: the chart is
    performance-budgeted, see web/lib/rowreads.py). Every value is a parameter."""
    P, W, C, AE, S = Patient, WeightMeasurement, ChecklistItem, AdverseEvent, InfusionSession
    TC, ED, TP, PS = TreatmentConsent, EligibilityDecision, TreatmentPlan, PlannedSession
    pid = f"p.{_col(P, 'id')}"
    current_weight = (
        f"FROM {_table(W)} w WHERE w.{_col(W, 'patient')} = {pid} AND NOT EXISTS "
        f"(SELECT 1 FROM {_table(W)} c WHERE c.{_col(W, 'correction_of')} = w.{_col(W, 'id')})"
    )
    newest = (
        f"ORDER BY w.{_col(W, 'measured_on')} DESC, w.{_col(W, 'recorded_at')} DESC, "
        f"w.{_col(W, 'id')} DESC LIMIT 1"
    )
    serious = (
        f"FROM {_table(AE)} ae JOIN {_table(S)} s ON s.{_col(S, 'id')} = ae.{_col(AE, 'session')} "
        f"WHERE s.{_col(S, 'patient')} = {pid} AND ae.{_col(AE, 'serious')} = %s "
        f"AND ae.{_col(AE, 'reported_at')} IS NULL "
        f"ORDER BY ae.{_col(AE, 'report_due_at')}, ae.{_col(AE, 'id')} LIMIT 1"
    )
    not_withdrawn = (
        f"NOT EXISTS (SELECT 1 FROM {_table(TC)} x "
        f"WHERE x.{_col(TC, 'withdraws')} = t.{_col(TC, 'id')})"
    )
    identity = ", ".join(
        f"p.{_col(P, f)}"
        for f in (
            "legal_given_name",
            "legal_family_name",
            "preferred_name",
            "date_of_birth",
            "sex_at_birth",
            "health_card_number",
            "health_card_version",
        )
    )
    patient_sql = (
        f"SELECT {identity}, "
        f"(SELECT w.{_col(W, 'weight_kg')} {current_weight} {newest}), "
        f"(SELECT w.{_col(W, 'measured_on')} {current_weight} {newest}), "
        f"(SELECT w.{_col(W, 'height_cm')} {current_weight} "
        f"AND w.{_col(W, 'height_cm')} IS NOT NULL {newest}), "
        f"(SELECT COUNT(*) FROM {_table(C)} ci WHERE ci.{_col(C, 'patient')} = {pid} "
        f"AND ci.{_col(C, 'resolved_at')} IS NULL), "
        f"(SELECT ae.{_col(AE, 'id')} {serious}), "
        f"(SELECT ae.{_col(AE, 'session')} {serious}), "
        f"(SELECT COUNT(*) FROM {_table(TC)} t WHERE t.{_col(TC, 'patient')} = {pid} "
        f"AND t.{_col(TC, 'decision')} = %s AND {not_withdrawn}), "
        f"(SELECT d.{_col(ED, 'facts')} FROM {_table(ED)} d WHERE d.{_col(ED, 'patient')} = {pid} "
        f"ORDER BY d.{_col(ED, 'decided_at')} DESC, d.{_col(ED, 'id')} DESC LIMIT 1) "
        f"FROM {_table(P)} p WHERE {pid} = %s"
    )
    statuses = ", ".join(["%s"] * len(GIVEN_STATUSES))
    plan_statuses = ", ".join(["%s"] * len(PLAN_STATUSES))
    tid = f"tp.{_col(TP, 'id')}"
    plan_sql = (
        f"SELECT {tid}, tp.{_col(TP, 'drug')}, tp.{_col(TP, 'protocol_id')}, "
        f"tp.{_col(TP, 'status')}, "
        f"(SELECT COUNT(*) FROM {_table(PS)} ps WHERE ps.{_col(PS, 'plan')} = {tid}), "
        f"(SELECT COUNT(*) FROM {_table(S)} s WHERE s.{_col(S, 'plan')} = {tid} "
        f"AND s.{_col(S, 'status')} IN ({statuses})), "
        f"(SELECT COUNT(*) FROM {_table(TC)} t "
        f"WHERE t.{_col(TC, 'patient')} = tp.{_col(TP, 'patient')} "
        f"AND t.{_col(TC, 'drug')} = tp.{_col(TP, 'drug')} "
        f"AND t.{_col(TC, 'protocol_id')} = tp.{_col(TP, 'protocol_id')} "
        f"AND t.{_col(TC, 'decision')} = %s AND {not_withdrawn}) "
        f"FROM {_table(TP)} tp WHERE tp.{_col(TP, 'patient')} = %s "
        f"AND tp.{_col(TP, 'status')} IN ({plan_statuses}) "
        f"ORDER BY tp.{_col(TP, 'prescribed_at')} DESC, {tid} DESC LIMIT 1"
    )
    return patient_sql, plan_sql


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _facts(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    facts = json.loads(value) if isinstance(value, (str, bytes)) else value
    return facts if isinstance(facts, dict) else {}


def banner_for(patient: Patient, role: str = "") -> Banner:
    """Everything the banner shows for ``patient`` (two queries); links only where ``role``
    may go."""
    patient_sql, plan_sql = _sql(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(patient_sql, [True, True, TreatmentConsentDecision.GRANTED, patient.pk])
        found = cursor.fetchone()
        cursor.execute(
            plan_sql,
            [*GIVEN_STATUSES, TreatmentConsentDecision.GRANTED, patient.pk, *PLAN_STATUSES],
        )
        plan_found = cursor.fetchone()
    if found is None:
        raise Patient.DoesNotExist(patient.pk)
    comorbidities = _facts(found[14]).get("comorbidities") or {}
    row = {
        "legal_given_name": found[0],
        "legal_family_name": found[1],
        "preferred_name": found[2],
        "date_of_birth": _date(found[3]),
        "sex_at_birth": found[4],
        "health_card_number": found[5],
        "health_card_version": found[6],
        "b_weight_kg": _decimal(found[7]),
        "b_weighed_on": _date(found[8]),
        "b_height_cm": _decimal(found[9]),
        "b_open_items": int(found[10] or 0),
        "b_serious_id": found[11],
        "b_serious_session": found[12],
        "b_consented": bool(found[13]),
        **{
            f"b_allergy_{fact}": bool(isinstance(comorbidities, dict) and comorbidities.get(fact))
            for fact in ALLERGY_FACTS
        },
    }
    plan_row = None
    if plan_found is not None:
        plan_row = dict(
            zip(
                ("pk", "drug", "protocol_id", "status", "total", "given", "consented"),
                plan_found,
                strict=True,
            )
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
            completed=plan_row["status"] == PlanStatus.COMPLETED,
            url=_url("treatments:plan", role, TREATMENT_ROLES.view_plan, plan_id=plan_row["pk"]),
        )
        # A completed series needs no consent; a plan in progress needs one to its protocol.
        consented = plan.completed or bool(plan_row["consented"])
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
