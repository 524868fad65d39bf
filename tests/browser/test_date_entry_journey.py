"""The same typed date is stored whatever the browser's locale (issue 14 item 7).

The front desk registers a patient on a tablet set to US English and on one set to Canadian
French, typing the date of birth key by key: both store 1975-03-04 (a browser date picker
would have shown mm/dd/yyyy on the first and jj/mm/aaaa on the second).
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import checked_goto, screenshot, sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("locale", "family"), [("en-US", "Datesus"), ("fr-CA", "Datesfr")])
def test_a_typed_date_of_birth_is_stored_the_same_in_en_us_and_fr_ca(
    browser, server_url, locale, family
):
    context = browser.new_context(
        viewport={"width": 1180, "height": 820}, locale=locale, timezone_id="America/Toronto"
    )
    page = context.new_page()
    checked_goto(page)
    try:
        sign_in(page, server_url, "frontdesk")
        page.goto(f"{server_url}/patients/")
        page.click("text=Register a patient")
        field = page.locator("#id_date_of_birth")
        assert field.get_attribute("type") == "text"
        assert field.get_attribute("placeholder") == "YYYY-MM-DD"
        page.fill("#id_legal_given_name", "Mona")
        page.fill("#id_legal_family_name", family)
        field.click()
        page.keyboard.type("1975-03-04")
        page.select_option("#id_sex_at_birth", "female")
        page.fill("#id_weight_kg", "61.0")
        page.fill("#id_height_cm", "160")
        page.click("button:has-text('Save')")
        page.wait_for_load_state()
        text = page.inner_text("main")
        assert f"{family}, Mona registered" in text
        assert "1975-03-04" in text
        screenshot(page, f"date-entry-{locale}")
    finally:
        context.close()
