"""Clinic-local wall time <-> UTC instants, with daylight-saving changes handled explicitly.

The clinic's zone is ``settings.TIME_ZONE`` (America/Toronto by default). Bookings are entered
as a local date and wall time and stored as UTC instants; durations are added to the UTC
instant, so a 4-h infusion on the November change day still ends 4 real hours later.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings

UTC = dt.UTC


class LocalTimeError(ValueError):
    """A wall time that does not exist, or exists twice, on that date."""


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(getattr(settings, "TIME_ZONE", "America/Toronto") or "America/Toronto")


def to_utc(day: dt.date, wall: dt.time) -> dt.datetime:
    """The UTC instant of ``wall`` on ``day`` in the clinic.

    Raises LocalTimeError for a time skipped by the spring change (e.g. 02:30 on the second
    Sunday of March) or repeated by the autumn change (01:30 on the first Sunday of November):
    a booking must never silently land an hour off.
    """
    zone = clinic_zone()
    naive = dt.datetime.combine(day, wall.replace(tzinfo=None, fold=0))
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        # Ambiguous (autumn) or non-existent (spring): tell which.
        round_trip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if round_trip != naive:
            raise LocalTimeError(
                f"{wall:%H:%M} does not exist on {day:%Y-%m-%d} (clocks go forward)."
            )
        raise LocalTimeError(
            f"{wall:%H:%M} happens twice on {day:%Y-%m-%d} (clocks go back); choose another time."
        )
    return first.astimezone(UTC)


def to_local(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(clinic_zone())


def local_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants of local midnight at the start and end of ``day`` (23 or 25 h on DST days)."""
    zone = clinic_zone()
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def local_today() -> dt.date:
    return dt.datetime.now(UTC).astimezone(clinic_zone()).date()
