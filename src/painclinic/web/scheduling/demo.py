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
