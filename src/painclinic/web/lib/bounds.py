"""Form fields for numbers, each bounded, each refusal naming the field and its range.

A number a form accepts without bounds reaches rules and reads that were never meant for it:
an 800 kg weight reached the checklist's eligibility re-screen (HTTP 500), a version of
2**63 would overflow a database integer, an amount of 1e999999 overflowed the decimal
context. Every number field of the web forms is one of these (or carries its own
``min_value``/``max_value``), so the form answers with a message on the field instead.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from painclinic.web.lib.converters import MAX_ROW_ID

# Record versions are PositiveIntegerField columns (a 32-bit integer on PostgreSQL).
MAX_VERSION = 2**31 - 1

OUT_OF_DATE = "This form is out of date: reload the page and enter it again."


def version_field(**kwargs: Any) -> forms.IntegerField:
    """The hidden version a form was opened at (optimistic concurrency)."""
    messages = {key: OUT_OF_DATE for key in ("invalid", "min_value", "max_value")}
    return forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=0,
        max_value=MAX_VERSION,
        error_messages=messages | kwargs.pop("error_messages", {}),
        **kwargs,
    )


def row_id_field(**kwargs: Any) -> forms.IntegerField:
    """The id of a row (hidden or typed): 1 .. the largest id the database holds."""
    messages = {key: OUT_OF_DATE for key in ("invalid", "min_value", "max_value")}
    return forms.IntegerField(
        min_value=1,
        max_value=MAX_ROW_ID,
        error_messages=messages | kwargs.pop("error_messages", {}),
        **kwargs,
    )


def _text(value: Decimal | int) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value.normalize():,f}"


def range_message(what: str, low: Decimal | int, high: Decimal | int, unit: str = "") -> str:
    """'Weight must be between 20 and 300 kg.' (what, its range and its unit)."""
    unit = f" {unit}" if unit else ""
    return f"{what} must be between {_text(low)} and {_text(high)}{unit}."


def bounded_decimal(
    label: str,
    *,
    what: str,
    low: Decimal,
    high: Decimal,
    unit: str = "",
    message: str | None = None,
    **kwargs: Any,
) -> forms.DecimalField:
    """A decimal field between ``low`` and ``high``; the refusal names ``what`` and the range."""
    text = message or range_message(what, low, high, unit)
    return forms.DecimalField(
        label=label,
        min_value=low,
        max_value=high,
        error_messages={"min_value": text, "max_value": text},
        **kwargs,
    )


def bounded_integer(
    label: str, *, what: str, low: int, high: int, unit: str = "", **kwargs: Any
) -> forms.IntegerField:
    """An integer field between ``low`` and ``high``; the refusal names ``what`` and the range."""
    text = range_message(what, low, high, unit)
    return forms.IntegerField(
        label=label,
        min_value=low,
        max_value=high,
        error_messages={"min_value": text, "max_value": text},
        **kwargs,
    )
