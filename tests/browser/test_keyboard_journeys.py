"""Keyboard only (issue 14, WCAG 2.1.1 and 2.4.7): the self-referral form and the patient portal.

No mouse: Tab moves focus, Enter follows a link or sends a form, Space ticks a box or picks a
radio button, and the keys are typed into whatever has focus. Every page reached is checked by
axe-core, and the skip link and the focus ring are checked where a keyboard user meets them.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import DEMO_PASSWORD, check_accessibility, screenshot

pytestmark = pytest.mark.browser

MAX_TABS = 120


def tab_to(page, selector: str) -> None:
    """Press Tab until the focused element matches ``selector`` (fails if it never does)."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    pytest.fail(f"Tab never reached {selector} on {page.url}")


def focused(page, script: str):
    return page.evaluate(f"() => {{ const el = document.activeElement; return {script}; }}")


def test_the_accessibility_check_fails_on_a_page_with_violations(page):
    """check_accessibility is not a check that cannot fail: an unlabelled input and grey-on-white
    text are reported with their rule, impact and where they are."""
    page.set_content(
        "<!doctype html><html lang='en'><head><title>t</title></head><body><main>"
        "<h1>Form</h1><p style='color:#bbb;background:#fff'>faint text</p>"
        "<input id='nameless' type='text'></main></body></html>"
    )
    with pytest.raises(pytest.fail.Exception) as failure:
        check_accessibility(page)
    report = str(failure.value)
    assert "label (critical)" in report
    assert "#nameless" in report
    assert "color-contrast (serious)" in report


def test_the_skip_link_comes_first_and_moves_focus_to_the_page_content(page, server_url):
    page.goto(f"{server_url}/ask-to-be-seen/")
    page.keyboard.press("Tab")
    assert focused(page, "el.textContent.trim()") == "Skip to main content"
    # The link shows itself when it has focus, with a visible 3px ring.
    assert page.get_by_role("link", name="Skip to main content").is_visible()
    page.keyboard.press("Enter")
    assert focused(page, "el.id") == "main"
    # The next Tab goes into the page, not back to the site's menu.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.getElementById('main').contains(document.activeElement)")
    ring = focused(
        page, "getComputedStyle(el).outlineWidth + ' ' + getComputedStyle(el).outlineStyle"
    )
    assert ring == "3px solid"


def test_a_patient_asks_to_be_seen_with_the_keyboard_only(page, server_url):
    page.goto(f"{server_url}/ask-to-be-seen/")
    for selector, text in [
        ("#id_given_name", "Élise"),
        ("#id_family_name", "Keyboard"),
        ("#id_date_of_birth", "1980-06-21"),
        ("#id_phone", "613-555-0142"),
        ("#id_email", "elise.keyboard@example.com"),
        ("#id_treatments_tried", "pregabalin; physiotherapy"),
    ]:
        tab_to(page, selector)
        page.keyboard.type(text)
    # The health questions: Space picks the focused choice of each group (the first, "Yes",
    # is focused when Tab enters the group); ArrowRight moves to "No" and picks it.
    questions = page.locator(".questions fieldset").count()
    assert questions > 0
    for index in range(questions):
        tab_to(page, f".questions fieldset:nth-of-type({index + 1}) input[type=radio]")
        page.keyboard.press("ArrowRight")
    tab_to(page, "#id_consent_to_contact")
    page.keyboard.press("Space")
    screenshot(page, "keyboard-self-referral-filled")
    tab_to(page, "button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server_url}/ask-to-be-seen/thanks/")
    assert page.get_by_role("heading", level=1).is_visible()
    check_accessibility(page)
    screenshot(page, "keyboard-self-referral-thanks")


def test_a_patient_reaches_invoices_and_a_questionnaire_with_the_keyboard_only(page, server_url):
    page.goto(f"{server_url}/accounts/login/")
    tab_to(page, "#id_username")
    page.keyboard.type("patient")
    tab_to(page, "#id_password")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server_url}/portal/")
    check_accessibility(page)

    tab_to(page, "a[href='/portal/invoices/']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server_url}/portal/invoices/")
    assert page.get_by_role("heading", name="Invoices and receipts").is_visible()
    check_accessibility(page)
    screenshot(page, "keyboard-portal-invoices")

    # Back to "My record" through the menu, then the first questionnaire due.
    tab_to(page, "a[href='/portal/']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server_url}/portal/")
    tab_to(page, "a.fu-due-link")
    page.keyboard.press("Enter")
    page.wait_for_url("**/followup/**/question/1/")
    assert page.get_by_text("Question 1 of", exact=False).first.is_visible()
    check_accessibility(page)
    screenshot(page, "keyboard-portal-questionnaire")
