"""Clinic policy for infusion day, read from settings with defaults.

These are clinic decisions, not published constants: each can be set in settings (or, once the
integrator adds them to settings.py, through the environment). The defaults and where they come
from are stated next to each.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings


def fasting_hours() -> tuple[Decimal, Decimal]:
    """(solids, clear fluids) hours of fasting before an infusion.

    Default 6 h solids, 2 h clear fluids: the usual procedural-sedation fasting rule, adopted
    here as clinic policy (setting ``INFUSION_FASTING_HOURS = (solids, clear_fluids)``).
    """
    solids, fluids = getattr(settings, "INFUSION_FASTING_HOURS", (6, 2))
    return Decimal(str(solids)), Decimal(str(fluids))


def pregnancy_test_ages() -> tuple[int, int]:
    """Age range (years, inclusive) in which a patient female at birth needs a pregnancy test.

    Clinic policy; default 12-55 (``INFUSION_PREGNANCY_TEST_AGES``).
    """
    low, high = getattr(settings, "INFUSION_PREGNANCY_TEST_AGES", (12, 55))
    return int(low), int(high)


def weight_change_percent() -> Decimal:
    """Today's weight may differ from the plan's by at most this much (default 10%)."""
    return Decimal(str(getattr(settings, "INFUSION_WEIGHT_CHANGE_PERCENT", 10)))


def observation_grace_min() -> int:
    """Minutes after a due time before an observation is shown as overdue (default 5)."""
    return int(getattr(settings, "INFUSION_OBSERVATION_GRACE_MIN", 5))


def observation_early_min() -> int:
    """An observation up to this many minutes before a due time counts for it (default 5)."""
    return int(getattr(settings, "INFUSION_OBSERVATION_EARLY_MIN", 5))


def serious_event_report_hours() -> int:
    """Hours to report a serious adverse event (CPSO out-of-hospital premises programme: 24)."""
    return int(getattr(settings, "INFUSION_SERIOUS_EVENT_REPORT_HOURS", 24))


def future_tolerance_s() -> int:
    """Clock skew allowed between a tablet and the server before a time is 'in the future'."""
    return int(getattr(settings, "INFUSION_FUTURE_TOLERANCE_S", 60))


def start_early_margin_min() -> int:
    """How long before its booking's time an infusion may start (default 30 min).

    A chair is often ready early; earlier than this, the start is refused as a likely wrong time
    or wrong booking (``INFUSION_START_EARLY_MARGIN_MIN``). A session a physician opened on
    another day than its booking's may start from the time it was opened.
    """
    return int(getattr(settings, "INFUSION_START_EARLY_MARGIN_MIN", 30))


def late_entry_min() -> int:
    """An entry whose clinical time is more than this many minutes before it was charted is a
    late entry, marked as such on the chart and in the summary (default 10 min,
    ``INFUSION_LATE_ENTRY_MIN``)."""
    return int(getattr(settings, "INFUSION_LATE_ENTRY_MIN", 10))
