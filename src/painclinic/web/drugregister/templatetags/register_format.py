"""ISMP dose formatting in register templates: {{ value|mg }}, {{ value|mg_per_ml }}."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from painclinic.pharmacology import format_dose

register = template.Library()


def _fmt(value: Any, unit: str) -> str:
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    text = format_dose(float(abs(number)), unit)
    return f"−{text}" if number < 0 else text


@register.filter
def mg(value: Any) -> str:
    return _fmt(value, "mg")


@register.filter
def signed_mg(value: Any) -> str:
    number = Decimal(str(value or 0))
    if number == 0:
        return "0 mg"
    return ("+" if number > 0 else "") + _fmt(number, "mg")


@register.filter
def mg_per_ml(value: Any) -> str:
    return _fmt(value, "mg/mL")


@register.filter
def ml(value: Any) -> str:
    return _fmt(value, "mL")
