"""A physician assesses a demo patient (Budapest, NRS), then decides ketamine eligibility."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import screenshot, sign_in

pytestmark = pytest.mark.browser

BUDAPEST_POSITIVE = (
    "#id_disproportionate_pain",
    "#id_symptoms_sensory_allodynia",
    "#id_symptoms_vasomotor_temperature_asymmetry",
    "#id_symptoms_vasomotor_skin_color_change",
    "#id_symptoms_sudomotor_edema_edema",
    "#id_signs_sensory_allodynia_light_touch",
    "#id_signs_vasomotor_temperature_asymmetry",
    "#id_signs_sudomotor_edema_edema",
)


def open_demo_patient(page, base: str) -> int:
    # Staff land on their home page; patient search is one click away.
    page.goto(f"{base}/patients/")
    page.fill("#id_q", "Whitfield")
    page.click("button:has-text('Search')")
    page.locator("table.results tbody tr a").first.click()
    page.wait_for_url(re.compile(r".*/patients/\d+/$"))
    patient_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    page.goto(f"{base}/assessments/patient/{patient_id}/")
    return patient_id


def test_physician_assesses_and_decides_ketamine_eligibility(page, server_url):
    sign_in(page, server_url, "physician")
    patient_id = open_demo_patient(page, server_url)
    assert "WHITFIELD, Jordan" in page.inner_text(".ptb")
    assert "72.4 kg" in page.inner_text(".ptb")

    # Budapest (clinical criteria): met.
    page.click("a:has-text('Budapest criteria (CRPS)')")
    page.wait_for_selector("h1:has-text('Budapest criteria')")
    assert page.is_checked("#id_variant_0")  # clinical
    for box in BUDAPEST_POSITIVE:
        page.check(box)
    screenshot(page, "assessment-budapest-form")
    page.click("button:has-text('Save and score')")
    page.wait_for_selector(".result-summary")
    assert "Met" in page.inner_text(".result-figures")
    assert "B symptoms in 3 of 4 categories" in page.inner_text(".reasons")
    screenshot(page, "assessment-budapest-result")

    # NRS 7.
    page.goto(f"{server_url}/assessments/patient/{patient_id}/new/nrs/")
    page.click("label[for=id_score_7]")
    screenshot(page, "assessment-nrs-form")
    page.click("button:has-text('Save and score')")
    page.wait_for_selector(".result-summary")
    assert "pain intensity 7/10" in page.inner_text(".reasons")

    # Eligibility: facts the record does not hold.
    page.goto(f"{server_url}/assessments/patient/{patient_id}/")
    page.click("a:has-text('Eligibility decision')")
    page.wait_for_selector("h1:has-text('Eligibility decision')")
    assert "met" in page.inner_text("section.card dl")
    page.select_option("#id_condition", "crps_1")
    page.fill("#id_systolic_bp_mmhg", "128")
    page.fill("#id_diastolic_bp_mmhg", "82")
    page.fill("#id_heart_rate_bpm", "74")
    page.select_option("#id_pregnancy", "unknown")
    page.select_option("#id_ecg_on_file", "yes")
    page.check("#id_liver_tests_on_file")
    rows = [
        ("physical_therapy", "", "12", "no_relief"),
        ("gabapentin", "1800", "10", "no_relief"),
        ("pamidronate", "", "6", "partial_relief"),
    ]
    for i, (name, dose, weeks, outcome) in enumerate(rows):
        page.fill(f"#id_prior-{i}-treatment", name)
        page.fill(f"#id_prior-{i}-max_daily_dose_mg", dose)
        page.fill(f"#id_prior-{i}-duration_weeks", weeks)
        page.select_option(f"#id_prior-{i}-outcome", outcome)
    page.click("button:has-text('Show the recommendation')")
    page.wait_for_selector("#drug-ketamine")
    ketamine = page.inner_text("#drug-ketamine")
    assert "Eligible with cautions" in ketamine
    assert "Pregnancy status unknown" in ketamine
    assert page.locator("#drug-ketamine [data-rule=KET-MISS-003]").count() == 1
    assert page.locator("#drug-lidocaine [data-rule=LID-STEP-002]").count() == 1
    # Rule ids are for the audit trail and the docs, not for the people reading the page.
    assert "KET-MISS-003" not in ketamine

    # An override without a reason is refused on the field.
    page.check("input[name=ketamine_decision][value=override]")
    page.select_option("#id_ketamine_final_status", "not_eligible")
    page.click("button:has-text('Record the decision')")
    page.wait_for_selector("#drug-ketamine .has-error")
    assert "An override needs a reason." in page.inner_text("#drug-ketamine")

    # Accept the recommendation instead.
    page.check("input[name=ketamine_decision][value=accept]")
    page.select_option("#id_ketamine_final_status", "")
    screenshot(page, "assessment-eligibility")
    page.click("button:has-text('Record the decision')")
    page.wait_for_url(f"{server_url}/assessments/patient/{patient_id}/")
    assert "Eligibility decision recorded." in page.inner_text(".messages")
    checklist = page.inner_text("#checklist")
    assert "Pregnancy status unknown" in checklist and "KET-MISS-003" not in checklist
    assert "Eligible with cautions" in page.inner_text("body")
    screenshot(page, "assessment-patient-page")
    page.click("a:has-text('Eligible with cautions')")
    page.wait_for_selector("h1:has-text('Ketamine')")
    assert "Pregnancy status unknown" in page.inner_text("body")
    assert page.locator("[data-rule=KET-MISS-003]").count() >= 1
    screenshot(page, "assessment-decision")
    page.goto(f"{server_url}/assessments/patient/{patient_id}/")

    # A PHQ-9 with item 9 above 0: the red alert on the result and on the patient page.
    page.goto(f"{server_url}/assessments/patient/{patient_id}/new/phq9/")
    for item in range(8):
        page.click(f"label[for=id_items_{item}_1]")
    page.click("label[for=id_items_8_1]")
    page.click("button:has-text('Save and score')")
    page.wait_for_selector(".alert-danger")
    assert "immediate follow-up needed" in page.inner_text(".alert-danger")
    screenshot(page, "assessment-phq9-self-harm")
    page.goto(f"{server_url}/assessments/patient/{patient_id}/")
    assert "immediate follow-up needed" in page.inner_text(".alert-danger")
    screenshot(page, "assessment-patient-page-alert")


INSTRUMENTS = ("acr2016", "dn4", "lanss", "bpi", "phq9", "pgic")


def test_a_nurse_sees_every_instrument_form(page, server_url):
    sign_in(page, server_url, "nurse")
    patient_id = open_demo_patient(page, server_url)
    for name in INSTRUMENTS:
        page.goto(f"{server_url}/assessments/patient/{patient_id}/new/{name}/")
        assert page.locator("button:has-text('Save and score')").count() == 1
        screenshot(page, f"assessment-form-{name}")
    # A nurse may not open the eligibility decision.
    response = page.goto(f"{server_url}/assessments/patient/{patient_id}/eligibility/")
    assert response is not None and response.status == 403
