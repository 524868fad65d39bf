"""Date and time inputs that read the same in every browser: YYYY-MM-DD and 24-hour HH:MM.

The browser's own date and time pickers follow its locale (mm/dd/yyyy and "08:30 AM" on a
US-configured tablet) while every page shows YYYY-MM-DD and 24-hour times: a wrong-date and
wrong-time risk. These are text inputs with the format in their placeholder, a pattern the
browser checks, and a numeric keyboard on phones; the server accepts only these formats
(``painclinic.web.formats``).
"""

from __future__ import annotations

from typing import Any

from django import forms

DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"
TIME_PATTERN = r"([01]\d|2[0-3]):[0-5]\d"


def _attrs(base: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    return {**base, **(extra or {})}


class IsoDateInput(forms.DateInput):
    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        base = {
            "inputmode": "numeric",
            "pattern": DATE_PATTERN,
            "placeholder": "YYYY-MM-DD",
            "autocomplete": "off",
            "size": 10,
            "class": "iso-date",
        }
        super().__init__(_attrs(base, attrs), format="%Y-%m-%d")


class Time24Input(forms.TimeInput):
    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        extra = dict(attrs or {})
        extra.pop("step", None)  # a step only means something to the browser's own picker
        base = {
            "inputmode": "numeric",
            "pattern": TIME_PATTERN,
            "placeholder": "HH:MM (24 h)",
            "autocomplete": "off",
            "size": 5,
            "class": "time-24",
        }
        super().__init__(_attrs(base, extra), format="%H:%M")


class IsoDateTimeInput(forms.DateTimeInput):
    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        base = {
            "pattern": DATE_PATTERN + r"[ T]" + TIME_PATTERN,
            "placeholder": "YYYY-MM-DD HH:MM",
            "autocomplete": "off",
            "size": 16,
            "class": "iso-datetime",
        }
        super().__init__(_attrs(base, attrs), format="%Y-%m-%d %H:%M")
