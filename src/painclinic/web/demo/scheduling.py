"""Demo chairs for `painclinic demo` (called by the integrator's demo loader)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from painclinic.web.scheduling.models import Chair, OpeningHours

DEMO_CHAIRS = [
    ("Chair 1", "Infusion room A, window"),
    ("Chair 2", "Infusion room A"),
    ("Chair 3", "Infusion room B"),
    ("Chair 4", "Infusion room B, near the nursing station"),
]


def load_chairs(
    chairs: list[tuple[str, str]] | None = None,
    *,
    weekdays: range = range(5),
    opens: dt.time = dt.time(8, 0),
    closes: dt.time = dt.time(17, 0),
) -> list[Chair]:
    """Create four chairs open Monday to Friday 08:00-17:00 (clinic time). Idempotent: an
    existing chair of the same name is kept and given any missing weekday hours."""
    out = []
    with transaction.atomic():
        for name, location in chairs or DEMO_CHAIRS:
            chair, _ = Chair.objects.get_or_create(name=name, defaults={"location": location})
            have = set(chair.opening_hours.values_list("weekday", flat=True))
            OpeningHours.objects.bulk_create(
                OpeningHours(chair=chair, weekday=d, opens=opens, closes=closes)
                for d in weekdays
                if d not in have
            )
            out.append(chair)
    return out


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    day = dt.date(year, month, 1)
    day += dt.timedelta(days=(weekday - day.weekday()) % 7)
    return day + dt.timedelta(weeks=n - 1)


def _easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * ell) // 433
    month = (h + ell - 7 * m + 90) // 25
    return dt.date(year, month, (h + ell - 7 * m + 33 * month + 19) % 32)


def ontario_holidays(year: int) -> dict[dt.date, str]:
    """Ontario's public holidays (Employment Standards Act) for ``year``. A holiday on a
    weekend is not moved here: the clinic is closed at weekends anyway; set any observed
    weekday off as its own closure."""
    victoria = dt.date(year, 5, 24)
    victoria -= dt.timedelta(days=victoria.weekday())  # the Monday on or before 24 May
    return {
        dt.date(year, 1, 1): "New Year's Day",
        _nth_weekday(year, 2, 0, 3): "Family Day",
        _easter(year) - dt.timedelta(days=2): "Good Friday",
        victoria: "Victoria Day",
        dt.date(year, 7, 1): "Canada Day",
        _nth_weekday(year, 9, 0, 1): "Labour Day",
        _nth_weekday(year, 10, 0, 2): "Thanksgiving",
        dt.date(year, 12, 25): "Christmas Day",
        dt.date(year, 12, 26): "Boxing Day",
    }


def load_holidays(years: list[int]) -> int:
    """Close the clinic on Ontario's public holidays of ``years`` (idempotent); returns how
    many closures were added."""
    from painclinic.web.scheduling.models import ClinicClosure

    added = 0
    with transaction.atomic():
        for year in years:
            for day, name in ontario_holidays(year).items():
                if not ClinicClosure.objects.filter(active=True, date=day).exists():
                    ClinicClosure.objects.create(date=day, reason=name)
                    added += 1
    return added
