"""Safety checklist #32: every dose rendered on a page follows ISMP notation (leading zero, no
trailing zero, a space before the unit, "mcg" never "µg"), checked over real rendered pages."""

from __future__ import annotations

import re

from django.urls import reverse
from django.utils import timezone

from painclinic.web.accounts.models import Role
from painclinic.web.demo.registry import load_demo
from painclinic.web.demo.treatment import load_treatment_demo
from painclinic.web.treatments.models import TreatmentPlan

UNITS = r"(?:mg/kg/h|mg/kg|mg/h|mg/mL|mL/h|mL|mg|mcg/kg/min|mcg|ng/mL)"
TRAILING_ZERO = re.compile(rf"\b\d+\.\d*0\s?{UNITS}(?![\w/])")
NO_LEADING_ZERO = re.compile(rf"(?<![\d\w])\.\d+\s?{UNITS}(?![\w/])")
NO_SPACE = re.compile(rf"(?<![\w.])\d+(?:\.\d+)?{UNITS}(?![\w/])")
DOSE = re.compile(rf"\b\d+(?:\.\d+)? {UNITS}(?![\w/])")


def visible_text(html: bytes) -> str:
    text = html.decode()
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)  # drop tags (attribute values are not shown)
    return re.sub(r"\s+", " ", text)


def assert_ismp(text: str, page: str) -> None:
    assert DOSE.search(text), f"{page}: no dose found to check"
    for rule, pattern in (
        ("trailing zero", TRAILING_ZERO),
        ("missing leading zero", NO_LEADING_ZERO),
        ("no space before the unit", NO_SPACE),
    ):
        found = pattern.search(text)
        assert found is None, f"{page}: {rule}: {found.group(0)!r}"
    assert "µg" not in text and "ug/" not in text, page


def test_plan_pages_and_chair_board_use_ismp_notation(db, client_for):
    load_demo(password="demo-password-1234", patient_count=8)
    load_treatment_demo(patient_count=2)
    physician = client_for(Role.PHYSICIAN)
    for plan in TreatmentPlan.objects.all():
        url = reverse("treatments:plan", kwargs={"plan_id": plan.pk})
        assert_ismp(visible_text(physician.get(url).content), url)
    first = TreatmentPlan.objects.first().bookings.order_by("starts_at").first()
    day = timezone.localtime(first.starts_at).date().isoformat()
    board = reverse("scheduling:board") + f"?date={day}"
    assert_ismp(visible_text(client_for(Role.NURSE).get(board).content), board)
