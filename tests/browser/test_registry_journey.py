"""Front desk registers a patient and finds them again; a nurse cannot open the audit report."""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot, sign_in

pytestmark = pytest.mark.browser

HEALTH_CARD = "2345678904"  # valid Ontario check digit (Luhn)


def test_front_desk_registers_finds_and_signs_out(page, server_url):
    sign_in(page, server_url, "frontdesk")
    page.wait_for_url(f"{server_url}/worklist/today/")
    page.goto(f"{server_url}/patients/")
    page.click("text=Register a patient")
    page.fill("#id_legal_given_name", "Evelyn")
    page.fill("#id_legal_family_name", "Boyd")
    page.fill("#id_date_of_birth", "1981-03-14")
    page.select_option("#id_sex_at_birth", "female")
    page.fill("#id_health_card_number", "2345 678 903")  # wrong check digit first
    page.fill("#id_phone", "(416) 555-0177")
    page.fill("#id_weight_kg", "68.2")
    page.fill("#id_height_cm", "167")
    page.click("button:has-text('Save')")
    error = page.locator(".has-error .field-error")
    assert "check digit" in error.inner_text()
    screenshot(page, "registry-bad-health-card")
    page.fill("#id_health_card_number", "2345 678 904")
    page.click("button:has-text('Save')")
    page.wait_for_selector("h1:has-text('Patient record')")
    assert "Boyd, Evelyn registered." in page.inner_text(".messages")
    assert page.inner_text(".ptb .ptb-name") == "BOYD, Evelyn"
    assert "68.2 kg" in page.inner_text(".ptb")
    screenshot(page, "registry-patient-detail")

    page.click("nav >> text=Patients")
    page.fill("#id_q", HEALTH_CARD)
    page.click("button:has-text('Search')")
    rows = page.locator("table.results tbody tr")
    assert rows.count() == 1
    assert "Boyd, Evelyn" in rows.first.inner_text()
    screenshot(page, "registry-search")

    page.click("button:has-text('Sign out')")
    page.wait_for_url(f"{server_url}/accounts/login/")
    page.goto(f"{server_url}/patients/")
    assert "/accounts/login/" in page.url


def test_nurse_cannot_open_the_audit_report(page, server_url):
    sign_in(page, server_url, "nurse")
    page.wait_for_url(f"{server_url}/worklist/today/")
    assert page.locator("nav >> text=Audit report").count() == 0
    response = page.goto(f"{server_url}/audit/")
    assert response is not None and response.status == 403
    assert "Not allowed" in page.inner_text("h1")
