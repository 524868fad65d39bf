"""ISMP dose strings in templates: ``{{ value|dose:"mg/h" }}`` (format_dose), money in dollars."""

from __future__ import annotations

from typing import Any

from django import template

from painclinic.pharmacology import format_dose
from painclinic.web.lib.money import money
from painclinic.web.lib.wording import without_evidence_tags

register = template.Library()


@register.filter
def dose(value: Any, unit: str) -> str:
    """``format_dose``: amounts and rates to two decimals at most (pump rates are exact to
    0.1 mL/h); per-kg doses to three significant digits."""
    if value is None or value == "":
        return "—"
    if unit in ("mg/kg/h", "mg/kg"):
        return format_dose(float(value), unit)  # three significant digits
    return format_dose(float(value), unit, decimals=2)


@register.filter
def cents(value: Any) -> str:
    """Integer cents as dollars: 123456 → $1,234.56 (1 234,56 $ in French)."""
    if value is None or value == "":
        return "—"
    # In the reader's language: $1,234.56, or 1 234,56 $ in French.
    return money(int(value))


@register.filter
def minutes(value: Any) -> str:
    """A duration in minutes as h and min: 240 → 4 h, 90 → 1 h 30 min, 7020 → 117 h."""
    total = round(float(value))
    hours, mins = divmod(total, 60)
    if hours and mins:
        return f"{hours} h {mins} min"
    return f"{hours} h" if hours else f"{mins} min"


@register.filter(name="without_evidence_tags", is_safe=True)
def without_evidence_tags_filter(value: Any) -> str:
    """A source or citation as a person reads it: the evidence tags taken out."""
    return without_evidence_tags(value)
