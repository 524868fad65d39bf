"""The clinic's calendar: today's date in the clinic's zone, and ages counted on it."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def clinic_today() -> dt.date:
    """Today in the clinic's time zone (``settings.TIME_ZONE``), not in UTC."""
    return timezone.localdate()


def age_in_years(date_of_birth: dt.date, on: dt.date) -> int:
    """Completed years on ``on`` (a birthday counts from its own day)."""
    before_birthday = (on.month, on.day) < (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - int(before_birthday)
