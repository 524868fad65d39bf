"""What is left of the controlled drug drawn for a session, computed, never typed.

drawn (register draws for the session, every bag including a bag that failed its double check)
- delivered (the rate segments' mg) - already wasted (register waste entries) = remainder.
Lidocaine is not a controlled drug: it has no register entries and no waste step.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from painclinic.web.drugregister.models import ControlledDrug, EntryKind, RegisterEntry
from painclinic.web.infusions.models import InfusionSession, RateSegment
from painclinic.web.infusions.rules import delivered_mg, fmt
from painclinic.web.lib.rowreads import rows_where

MG = Decimal("0.01")


@dataclass(frozen=True)
class WasteDue:
    drawn_mg: Decimal
    delivered_mg: Decimal
    wasted_mg: Decimal
    # Vial concentrations the drug was drawn at (the waste entry is per concentration).
    concentrations: tuple[Decimal, ...]

    @property
    def remainder_mg(self) -> Decimal:
        left = self.drawn_mg - self.delivered_mg - self.wasted_mg
        return max(left, Decimal(0)).quantize(MG, rounding=ROUND_HALF_UP)

    @property
    def outstanding(self) -> bool:
        return self.remainder_mg > 0

    @property
    def concentration(self) -> Decimal | None:
        """The one vial concentration drawn, or None when there were several."""
        return self.concentrations[0] if len(self.concentrations) == 1 else None

    @property
    def drawn(self) -> str:
        return fmt(self.drawn_mg, "mg")

    @property
    def delivered(self) -> str:
        return fmt(self.delivered_mg, "mg")

    @property
    def wasted(self) -> str:
        return fmt(self.wasted_mg, "mg")

    @property
    def remainder(self) -> str:
        return fmt(self.remainder_mg, "mg")


def is_controlled(session: InfusionSession) -> bool:
    return session.plan.drug in ControlledDrug.values


def waste_due(session: InfusionSession, *, delivered: Decimal | None = None) -> WasteDue | None:
    """The session's draw/delivery/waste balance; None for a drug outside the register or when
    nothing was drawn through the register."""
    if not is_controlled(session):
        return None
    # A session has a handful of register entries: read them (no compiled aggregate, the
    # chart shows this on every view) and add the exact decimals here.
    entries = rows_where(
        RegisterEntry, "session", session, only=("kind", "concentration_mg_per_ml", "amount_mg")
    )
    drawn = Decimal(0)
    wasted = Decimal(0)
    concentrations: set[Decimal] = set()
    for entry in entries:
        if entry.kind == EntryKind.DRAW:
            drawn += entry.amount_mg
            concentrations.add(entry.concentration_mg_per_ml)
        elif entry.kind == EntryKind.WASTE:
            wasted += entry.amount_mg
    if drawn == 0:
        return None
    if delivered is None:
        segments = list(RateSegment.objects.filter(session=session).order_by("started_at", "id"))
        ends = [s.ended_at for s in segments if s.ended_at is not None]
        until = max(ends) if ends and len(ends) == len(segments) else timezone.now()
        delivered = delivered_mg(segments, until)
    return WasteDue(
        drawn_mg=drawn,
        delivered_mg=delivered,
        wasted_mg=wasted,
        concentrations=tuple(sorted(concentrations)),
    )
