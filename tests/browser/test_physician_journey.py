"""Issue 5's first journey, in one sitting: a physician registers and assesses a patient with
CRPS, records the ketamine eligibility decision, takes consent with the estimate and writes a
plan whose doses hit a soft limit; a second physician co-signs it and it becomes active."""

from __future__ import annotations

import re

import pytest

from painclinic.web.patients.healthcard import luhn_check_digit
from tests.browser.conftest import screenshot, sign_in

pytestmark = pytest.mark.browser

BUDAPEST_POSITIVE = (
    "#id_disproportionate_pain",
    "#id_symptoms_sensory_allodynia",
    "#id_symptoms_vasomotor_temperature_asymmetry",
    "#id_symptoms_sudomotor_edema_edema",
    "#id_signs_sensory_allodynia_light_touch",
    "#id_signs_vasomotor_temperature_asymmetry",
)


def test_physician_assesses_plans_and_a_second_physician_cosigns(page, server_url):
    base = server_url
    sign_in(page, base, "physician")

    # Register the patient, weighed today.
    page.goto(f"{base}/patients/new/")
    page.fill("#id_legal_given_name", "Noor")
    page.fill("#id_legal_family_name", "Rahimi")
    page.fill("#id_date_of_birth", "1979-06-02")
    page.select_option("#id_sex_at_birth", "male")
    page.fill("#id_health_card_number", "345678901" + str(luhn_check_digit("345678901")))
    page.fill("#id_weight_kg", "72.4")
    page.fill("#id_height_cm", "176")
    page.click("main button:has-text('Save')")
    page.wait_for_selector("h1:has-text('Patient record')")
    assert page.inner_text(".ptb .ptb-name") == "RAHIMI, Noor"
    patient_id = int(re.search(r"/patients/(\d+)/", page.url).group(1))

    # Assessment: Budapest (clinical) met, NRS 7.
    page.click("a:has-text('Assessments and eligibility')")
    page.click("a:has-text('Budapest criteria (CRPS)')")
    for box in BUDAPEST_POSITIVE:
        page.check(box)
    page.click("button:has-text('Save and score')")
    page.wait_for_selector(".result-summary")
    assert "Met" in page.inner_text(".result-figures")
    page.goto(f"{base}/assessments/patient/{patient_id}/new/nrs/")
    page.click("label[for=id_score_7]")
    page.click("button:has-text('Save and score')")
    page.wait_for_selector(".result-summary")

    # Eligibility: accept the engine's recommendation for ketamine.
    page.goto(f"{base}/assessments/patient/{patient_id}/eligibility/")
    page.select_option("#id_condition", "crps_1")
    page.fill("#id_systolic_bp_mmhg", "126")
    page.fill("#id_diastolic_bp_mmhg", "80")
    page.fill("#id_heart_rate_bpm", "70")
    page.select_option("#id_pregnancy", "not_applicable")
    page.select_option("#id_ecg_on_file", "yes")
    page.check("#id_liver_tests_on_file")
    for i, (name, dose, weeks, outcome) in enumerate(
        [("physical_therapy", "", "12", "no_relief"), ("gabapentin", "1800", "10", "no_relief")]
    ):
        page.fill(f"#id_prior-{i}-treatment", name)
        page.fill(f"#id_prior-{i}-max_daily_dose_mg", dose)
        page.fill(f"#id_prior-{i}-duration_weeks", weeks)
        page.select_option(f"#id_prior-{i}-outcome", outcome)
    page.click("button:has-text('Show the recommendation')")
    page.wait_for_selector("#drug-ketamine")
    assert "Not eligible" not in page.inner_text("#drug-ketamine h2, #drug-ketamine h3")
    page.check("input[name=ketamine_decision][value=accept]")
    page.click("button:has-text('Record the decision')")
    page.wait_for_url(f"{base}/assessments/patient/{patient_id}/")

    # Consent with the cost estimate for the continuous-titration protocol (one session).
    page.goto(f"{base}/treatments/patient/{patient_id}/")
    page.click("text=Record consent and estimate")
    page.select_option("#id_protocol_id", "ket-continuous-titration")
    page.select_option("#id_sessions", "1")
    page.click("button:has-text('Show the consent text and estimate')")
    page.wait_for_selector("text=Estimated total")
    assert "not covered by OHIP" in page.inner_text("body")
    page.select_option("#id_witness", label="Grace Lindqvist (Infusion nurse)")
    page.check("#id_signature_confirmed")
    page.click("button:has-text('Record signed consent')")
    page.wait_for_selector("h1:has-text('Consent to treatment')")

    # The plan: titration to 40 mg/h passes the 25 mg/h soft limit.
    page.goto(f"{base}/treatments/patient/{patient_id}/")
    page.click("text=New treatment plan")
    page.select_option("#id_protocol_id", "ket-continuous-titration")
    page.click("button:has-text('Calculate doses')")
    page.wait_for_selector("text=Soft limit: reason and co-signature needed")
    page.click("button:has-text('Save for co-signature')")
    assert "soft limit" in page.locator(".has-error .field-error").inner_text()
    page.fill(
        "#id_soft_limit_reason",
        "Refractory CRPS after an outpatient series; inpatient titration per Goldberg 2010.",
    )
    page.click("button:has-text('Save for co-signature')")
    page.wait_for_selector("text=Awaiting co-signature")
    plan_url = page.url
    assert page.locator("text=Review and co-sign").count() == 0

    # A second physician co-signs.
    page.click("header button:has-text('Sign out')")
    sign_in(page, base, "physician2")
    page.goto(plan_url)
    page.click("text=Review and co-sign")
    assert "Refractory CRPS" in page.inner_text("body")
    page.check("#id_confirm")
    page.fill("#id_note", "Agree; monitored bed booked.")
    page.click("button:has-text('Co-sign and activate')")
    page.wait_for_selector(".status-active")
    assert page.locator("img.chart").count() >= 1
    screenshot(page, "journey-physician-plan-active")
