"""A physician records consent with an estimate and a soft-limit plan (lidocaine 5 mg/kg at 100 kg,
500 mg: 10 mg/kg of the patient's 50 kg ideal body weight, above the 7.5 mg/kg soft limit); a
second physician co-signs it and it becomes active."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.browser.conftest import DEMO_PASSWORD, screenshot, serving, sign_in

pytestmark = pytest.mark.browser

# Run inside the demo database before the server starts: the demo fee schedule, a patient
# weighed today at 100 kg, and physician eligibility decisions (the eligibility pages belong to
# the assessments area; this journey is about consent and the plan).
SETUP = """
from django.utils import timezone
from decimal import Decimal
from painclinic.web.accounts.models import User
from painclinic.web.assessments.models import EligibilityDecision
from painclinic.web.patients.models import Patient, WeightMeasurement
from painclinic.web.demo.treatments import load_fee_schedule
from tests.conftest import actor_as
load_fee_schedule(actor_as(User.objects.get(username="clinicadmin")))
physician = User.objects.get(username="physician")
nurse = User.objects.get(username="nurse")
patient = Patient.objects.filter(portal_user__isnull=True).order_by("id").first()
# 100 kg, 155 cm, female: lidocaine 5 mg/kg is 500 mg (the protocol's cap), 10 mg/kg of her
# 50 kg ideal body weight: above the 7.5 mg/kg soft limit, at the 10 mg/kg hard one.
Patient.objects.filter(pk=patient.pk).update(sex_at_birth="female")
WeightMeasurement.objects.create(patient=patient, weight_kg=Decimal("100.0"),
    height_cm=Decimal("155"), measured_on=timezone.localdate(), recorded_by=nurse,
    recorded_at=timezone.now())
for drug in ("ketamine", "lidocaine"):
    EligibilityDecision.objects.create(patient=patient, drug=drug, condition="crps_1", facts={},
        engine_result={"drug": drug, "status": "eligible"}, engine_status="eligible",
        physician_decision="accept", final_status="eligible", decided_by=physician,
        decided_at=timezone.now())
print("PATIENT", patient.pk)
small = Patient.objects.filter(portal_user__isnull=True, sex_at_birth="female").exclude(
    pk=patient.pk).order_by("id").first()
WeightMeasurement.objects.create(patient=small, weight_kg=Decimal("45.0"),
    height_cm=Decimal("170"), measured_on=timezone.localdate(), recorded_by=nurse,
    recorded_at=timezone.now())
EligibilityDecision.objects.create(patient=small, drug="lidocaine", condition="phn", facts={},
    engine_result={"drug": "lidocaine", "status": "eligible"}, engine_status="eligible",
    physician_decision="accept", final_status="eligible", decided_by=physician,
    decided_at=timezone.now())
print("SMALL", small.pk)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def journey(tmp_path_factory) -> Iterator[tuple[str, int, int]]:
    data_dir = tmp_path_factory.mktemp("painclinic-plan-journey")
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "PAINCLINIC_ENV": "development",
        "PAINCLINIC_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "painclinic.web.settings",
    }
    cli = [sys.executable, "-m", "painclinic.cli"]
    subprocess.run(
        [*cli, "demo", "--password", DEMO_PASSWORD, "--patients", "6"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    setup = subprocess.run(
        [*cli, "manage", "shell", "-c", SETUP],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    patient_id = int(setup.stdout.split("PATIENT")[1].split()[0])
    small_id = int(setup.stdout.split("SMALL")[1].split()[0])
    with serving(data_dir, env) as url:
        yield url, patient_id, small_id


def record_consent(page, base: str, patient_id: int, protocol_id: str, sessions: str) -> None:
    page.goto(f"{base}/treatments/patient/{patient_id}/")
    page.click("text=Record consent and estimate")
    page.select_option("#id_protocol_id", protocol_id)
    page.select_option("#id_sessions", sessions)
    page.click("button:has-text('Show the consent text and estimate')")
    page.wait_for_selector("text=Estimated total")
    assert "not covered by OHIP" in page.inner_text("body")
    page.select_option("#id_witness", label="Grace Lindqvist (Infusion nurse)")
    page.check("#id_signature_confirmed")
    screenshot(page, f"treatment-consent-new-{protocol_id}")
    page.click("button:has-text('Record signed consent')")
    page.wait_for_selector("h1:has-text('Consent to treatment')")


def test_soft_limit_plan_is_cosigned_by_a_second_physician(page, journey):
    base, patient_id, _ = journey
    sign_in(page, base, "physician")
    record_consent(page, base, patient_id, "lid-5mgkg-60min", "1")
    body = page.inner_text("body")
    assert "DEMO-LID-SESSION" in body and "Grace Lindqvist" in body
    screenshot(page, "treatment-consent")
    page.emulate_media(media="print")
    assert not page.locator("header.topbar").is_visible()
    assert page.locator("text=Estimated total").is_visible()
    screenshot(page, "treatment-consent-print")
    page.emulate_media(media="screen")

    page.goto(f"{base}/treatments/patient/{patient_id}/")
    page.click("text=New treatment plan")
    page.select_option("#id_protocol_id", "lid-5mgkg-60min")
    page.click("button:has-text('Calculate doses')")
    page.wait_for_selector("text=Soft limit: reason and co-signature needed")
    doses = page.inner_text("table.doses")
    for text in ("5 mg/kg/h", "500 mg/h", "125 mL/h", "500 mg"):
        assert text in doses, text
    page.click("button:has-text('Save for co-signature')")  # no reason yet
    error = page.locator(".has-error .field-error")
    assert "soft limit" in error.inner_text()
    screenshot(page, "treatment-plan-soft-limit-reason-required")
    page.fill(
        "#id_soft_limit_reason",
        "Refractory post-herpetic neuralgia; tolerated 5 mg/kg before with no toxicity signs.",
    )
    page.click("button:has-text('Save for co-signature')")
    page.wait_for_selector("text=Awaiting co-signature")
    assert "Not usable yet" in page.inner_text("body")
    assert page.locator("text=Review and co-sign").count() == 0  # not for the prescriber
    plan_url = page.url
    screenshot(page, "treatment-plan-awaiting-cosign")

    page.click("button:has-text('Sign out')")
    page.wait_for_url(f"{base}/accounts/login/")
    sign_in(page, base, "physician2")
    page.goto(plan_url)
    page.click("text=Review and co-sign")
    assert "Refractory post-herpetic neuralgia" in page.inner_text("body")
    page.check("#id_confirm")
    page.fill("#id_note", "Reviewed doses and ECG; agree.")
    screenshot(page, "treatment-plan-cosign")
    page.click("button:has-text('Co-sign and activate')")
    page.wait_for_selector(".status-active")
    body = page.inner_text("body")
    assert "Co-signed" in body and "Luc Tremblay" in body
    assert page.locator("img.chart").count() == 1
    screenshot(page, "treatment-plan-active")

    page.goto(f"{base}/treatments/patient/{patient_id}/")
    assert "Active" in page.inner_text("table.plans")
    screenshot(page, "treatment-patient")


def test_billing_keeps_the_fee_schedule(page, journey):
    base, _, _ = journey
    sign_in(page, base, "billing")
    page.goto(f"{base}/treatments/fees/")
    assert "DEMO-KET-SESSION" in page.inner_text("table.fees")
    page.fill("#id_code", "KET-SESSION")
    page.fill("#id_description", "Ketamine infusion session")
    page.fill("#id_amount", "-450")
    page.select_option("#id_basis", "per_session")
    page.select_option("#id_tax_category", "exempt_health")
    page.click("button:has-text('Add')")
    assert "negative" in page.locator(".has-error .field-error").inner_text()
    page.fill("#id_amount", "450.00")
    page.click("button:has-text('Add')")
    page.wait_for_selector("text=KET-SESSION added.")
    assert "$450.00" in page.inner_text("table.fees")
    screenshot(page, "treatment-fees")


def test_crps_series_within_limits_shows_concentration_and_relief(page, journey):
    base, patient_id, _ = journey
    sign_in(page, base, "physician")
    record_consent(page, base, patient_id, "ket-crps-outpatient", "10")
    page.goto(f"{base}/treatments/patient/{patient_id}/plans/new/")
    page.select_option("#id_protocol_id", "ket-crps-outpatient")
    page.click("button:has-text('Calculate doses')")
    page.wait_for_selector("text=Within limits")
    page.click("button:has-text('Save plan')")
    page.wait_for_selector(".status-active")
    body = page.inner_text("body")
    assert "25 mL/h" in body and "Predicted CRPS pain relief" in body
    assert page.locator("img.chart").count() == 2
    screenshot(page, "treatment-plan-crps")


def test_a_hard_limit_is_refused_with_the_limit_and_its_source(page, journey):
    """45 kg, 170 cm woman: lidocaine 1.5 mg/kg of ideal body weight (65 kg) as a 10-min dose
    is 2.17 mg/kg of her actual weight, above the 1.5 mg/kg hard limit."""
    base, _, small = journey
    sign_in(page, base, "physician")
    record_consent(page, base, small, "lid-1.5mgkg-ibw", "1")
    page.goto(f"{base}/treatments/patient/{small}/plans/new/?protocol_id=lid-1.5mgkg-ibw")
    page.wait_for_selector("text=HARD limit: refused")
    hard = page.inner_text("table.limits.hard")
    assert "bolus per kg" in hard and "2.17 mg/kg" in hard and "Foo 2021" in hard
    assert page.locator("button:has-text('Save plan')").count() == 0
    screenshot(page, "treatment-plan-hard-limit")
