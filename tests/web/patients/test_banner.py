"""The one patient banner (issue 14 item 4) and the patient page's clinical summary.

Every staff page about one patient (found by walking the URL configuration for a patient,
plan, session, booking, consent, decision, item, assessment, invoice or follow-up id) shows
the same banner: the name, date of birth with age, sex, the health card masked, the weight
with its date, allergies, the plan in progress and the alerts that hold, each linked to where
it is fixed. The banner reads its data in a fixed number of queries.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.assessments.models import ChecklistItem
from painclinic.web.infusions.models import AdverseEvent
from painclinic.web.patients.models import Patient
from painclinic.web.patients.templatetags.patient_banner import banner_for, mask_health_card
from painclinic.web.treatments.models import TreatmentPlan
from tests.conftest import make_patient
from tests.web.world import World, access_matrix, client_as, kwargs_for, url_of, url_patterns

pytestmark = pytest.mark.django_db

# URL parameters that name one patient's record.
PATIENT_KEYS = {
    "patient_id",
    "plan_id",
    "session_id",
    "booking_id",
    "consent_id",
    "decision_id",
    "item_id",
    "assessment_id",
    "invoice_id",
    "time_point_id",
    "weight_id",
    "alert_id",
    "event_id",
}
# Pages about one patient that do not show the banner, and why.
WITHOUT_BANNER = {
    "billing:invoice_pdf": "a PDF receipt",
    "billing:statement_pdf": "a PDF statement",
    "followup:start": "redirects to the first question",
    "infusions:open": "opens the chart (POST) or redirects to it",
    "treatments:fee_deactivate": "a fee schedule item, not a patient",
}
STAFF = (Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.BILLING, Role.CLINIC_ADMIN)
BANNER = re.compile(r'<section class="ptb" aria-label="Patient">.*?</section>', re.S)


def patient_routes() -> list[str]:
    return sorted(
        r.name
        for r in url_patterns()
        if {name for _, name in r.parameters} & PATIENT_KEYS
        and not r.name.startswith(("portal:", "link:"))
    )


def banner_of(html: str) -> str:
    found = BANNER.findall(html)
    assert found, "no patient banner"
    return found[0]


def test_the_banner_is_on_every_staff_patient_page(world: World):
    matrix = access_matrix()
    checked = []
    missing = []
    for name in patient_routes():
        roles = [r for r in STAFF if r in matrix.get(name, set())]
        if not roles:
            continue
        response = client_as(world, roles[0]).get(url_of(name, world))
        html_page = response.get("Content-Type", "").startswith("text/html")
        if response.status_code != 200 or not html_page:
            continue  # a POST-only step or a redirect: its page is the one it leads to
        body = response.content.decode()
        if name in WITHOUT_BANNER:
            continue
        if not BANNER.search(body):
            missing.append(name)
            continue
        banner = banner_of(body)
        # The follow-up time point is the portal patient's; everything else is Wendy's.
        whose = world.own_patient if "time_point_id" in kwargs_for(name, world) else world.patient
        assert f"{whose.legal_family_name.upper()}, {whose.legal_given_name}" in banner, name
        assert "Allergies" in banner and "Weight" in banner, name
        checked.append(name)
    assert not missing
    # The pages the issue names: the patient page, assessments, treatments, the chart,
    # bookings, outcomes, follow-up, billing and the drug register's waste step.
    for name in (
        "patients:detail",
        "assessments:patient",
        "treatments:patient",
        "treatments:plan",
        "infusions:session",
        "infusions:note",
        "scheduling:patient",
        "scheduling:booking",
        "outcomes:patient",
        "followup:patient",
        "billing:patient",
        "billing:statement",
        "billing:invoice",
    ):
        assert name in checked, name


def test_the_banner_shows_identity_weight_plan_and_allergy_state(world: World):
    body = client_as(world, Role.NURSE).get(url_of("infusions:session", world)).content.decode()
    banner = banner_of(body)
    dob = world.patient.date_of_birth
    assert f"{dob:%Y-%m-%d}" in banner
    assert re.search(r"\(\d+ y\)", banner)
    assert "Female" in banner or "Male" in banner
    assert "80 kg" in banner and "170 cm" in banner
    assert "Allergies" in banner and "not recorded" in banner
    assert "Ketamine" in banner and "1 of 10 given" in banner
    # The banner once only, on the chart too.
    assert body.count('class="ptb"') == 1


def test_the_health_card_is_masked_everywhere_but_the_edit_form(world: World):
    number = world.patient.health_card_number
    assert number
    for name in patient_routes():
        if name in ("patients:edit",) or name in WITHOUT_BANNER:
            continue
        roles = [r for r in STAFF if r in access_matrix().get(name, set())]
        if not roles:
            continue
        body = client_as(world, roles[0]).get(url_of(name, world)).content.decode()
        assert number not in body, name
        assert f"{number[:4]}-{number[4:7]}-{number[7:]}" not in body, name
    detail = client_as(world, Role.FRONT_DESK).get(url_of("patients:detail", world))
    assert f"•••• ••• {number[-3:]}" in banner_of(detail.content.decode())


def test_mask_health_card_shows_the_last_three_digits_and_the_version_only():
    assert mask_health_card("9876543217", "AB") == "•••• ••• 217 AB"
    assert mask_health_card("9876543217", "") == "•••• ••• 217"
    assert mask_health_card("", "") == ""


def test_an_allergy_recorded_at_an_eligibility_decision_is_shown(world: World):
    # The latest decision's facts are the patient's current ones.
    facts = dict(world.decision.facts)
    facts["comorbidities"] = {"amide_local_anaesthetic_allergy": True}
    type(world.decision).objects.filter(patient=world.patient).update(facts=facts)
    banner = banner_of(
        client_as(world, Role.FRONT_DESK).get(url_of("patients:detail", world)).content.decode()
    )
    assert "Amide local anaesthetics" in banner
    assert "ptb-allergy" in banner
    assert "not recorded</strong>" not in banner


def test_missing_information_alert_appears_only_while_an_item_is_open(world: World):
    url = url_of("patients:detail", world)
    physician = client_as(world, Role.PHYSICIAN)
    assert "Missing information" not in banner_of(physician.get(url).content.decode())
    ChecklistItem.objects.filter(pk=world.item.pk).update(resolved_at=None, resolved_by=None)
    banner = banner_of(physician.get(url).content.decode())
    assert "Missing information: 1 open item" in banner
    assert f'href="/assessments/patient/{world.patient.pk}/"' in banner
    # Front desk sees the alert without a link it could not follow.
    desk = banner_of(client_as(world, Role.FRONT_DESK).get(url).content.decode())
    assert "Missing information: 1 open item" in desk
    assert "/assessments/" not in desk


def test_unreported_serious_event_alert_links_to_its_report(world: World):
    url = url_of("patients:detail", world)
    physician = client_as(world, Role.PHYSICIAN)
    assert "not yet reported" not in banner_of(physician.get(url).content.decode())
    AdverseEvent.objects.filter(pk=world.adverse_event.pk).update(reported_at=None)
    banner = banner_of(physician.get(url).content.decode())
    assert "Serious adverse event not yet reported" in banner
    assert f"/infusions/adverse-events/{world.adverse_event.pk}/report/" in banner
    # A nurse cannot mark it reported: the alert links to the chart instead.
    nurse = banner_of(client_as(world, Role.NURSE).get(url).content.decode())
    assert f"/infusions/{world.adverse_event.session_id}/" in nurse


def test_no_consent_alert_for_a_patient_without_a_current_consent(world: World, users):
    physician = client_as(world, Role.PHYSICIAN)
    url = url_of("patients:detail", world)
    assert "consent" not in banner_of(physician.get(url).content.decode()).lower()
    bare = make_patient("Nora", "Noconsent")
    banner = banner_of(physician.get(f"/patients/{bare.pk}/").content.decode())
    assert "No current treatment consent" in banner
    assert f"/treatments/patient/{bare.pk}/consents/new/" in banner
    assert "no weight recorded" in banner
    assert "<dt>Plan</dt><dd>none</dd>" in banner


def test_a_completed_series_is_shown_as_such_and_needs_no_consent(world: World):
    from painclinic.web.treatments.models import TreatmentConsent

    TreatmentPlan.objects.filter(pk=world.plan.pk).update(status="completed")
    TreatmentConsent.objects.filter(patient=world.patient).update(decision="withdrawn")
    banner = banner_of(
        client_as(world, Role.NURSE).get(url_of("patients:detail", world)).content.decode()
    )
    assert "(series completed)" in banner
    assert "consent" not in banner.lower()


def test_no_internal_code_in_the_banner(world: World):
    banner = banner_of(
        client_as(world, Role.PHYSICIAN).get(url_of("patients:detail", world)).content.decode()
    )
    text = re.sub(r"<[^>]+>", " ", banner)
    assert world.plan.protocol_id not in text
    assert world.plan.status not in text.split()
    assert "_" not in text
    assert f"#{world.patient.pk}" not in text


def test_the_banner_reads_in_two_queries_whatever_the_record_holds(world: World):
    bare = make_patient("Quinn", "Quiet")
    # A page's hand-built read may defer the patient's fields (the chart's does): still two.
    deferred = Patient.objects.only("pk").get(pk=world.patient.pk)
    for patient in (world.patient, bare, deferred):
        with CaptureQueriesContext(connection) as queries:
            banner_for(patient, Role.PHYSICIAN)
        assert len(queries) == 2, [q["sql"] for q in queries]


def test_the_banner_is_read_once_per_request(world: World):
    client = client_as(world, Role.PHYSICIAN)
    url = url_of("patients:detail", world)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    banner_reads = [
        q for q in queries if "weightmeasurement" in q["sql"] and "eligibilitydecision" in q["sql"]
    ]
    assert len(banner_reads) == 1


def test_portal_pages_do_not_carry_the_staff_banner(world: World):
    body = client_as(world, Role.PATIENT).get("/portal/").content.decode()
    assert 'class="ptb"' not in body


def test_clinical_summary_for_clinicians_and_the_next_booking_for_everyone(world: World):
    url = url_of("patients:detail", world)
    body = client_as(world, Role.PHYSICIAN).get(url).content.decode()
    assert "Clinical summary" in body
    assert "Complex regional pain syndrome" in body  # the decision's condition, by name
    assert "Latest pain (NRS 0-10)" in body and "<strong>7</strong>" in body  # the correction
    assert "Latest PHQ-9" in body
    assert "Next booking" in body
    desk = client_as(world, Role.FRONT_DESK).get(url).content.decode()
    assert "Next booking" in desk
    assert "Problems" not in desk and "Current medications" not in desk


def test_clinical_summary_says_none_recorded_for_a_new_patient(world: World):
    bare = make_patient("Nell", "Newcomer")
    body = client_as(world, Role.NURSE).get(f"/patients/{bare.pk}/").content.decode()
    summary = body[body.index("Clinical summary") :]
    assert summary.count("None recorded") >= 4
    assert "None booked" in summary


def test_next_booking_is_the_earliest_future_one(world: World):
    from painclinic.web.scheduling.models import Booking

    upcoming = (
        Booking.objects.filter(
            patient=world.patient, status="booked", starts_at__gte=timezone.now()
        )
        .order_by("starts_at")
        .first()
    )
    body = client_as(world, Role.FRONT_DESK).get(url_of("patients:detail", world)).content.decode()
    if upcoming is None:
        assert "None booked" in body
    else:
        local = timezone.localtime(upcoming.starts_at)
        assert f"{local:%Y-%m-%d %H:%M}" in body


def test_kwargs_cover_every_patient_route(world: World):
    for name in patient_routes():
        assert kwargs_for(name, world)
