"""The pharmacology core's closed vocabularies, as string enumerations.

Each member *is* its old string (:class:`enum.StrEnum`): ``LimitStatus.WITHIN == "within"``,
``json.dumps`` writes ``"within"``, and callers that stored or compared the strings (the web
app's plans and templates, JSON orders) keep working. Inside the core, code compares and
stores members, never the literals.
"""

from __future__ import annotations

from enum import StrEnum


class LimitStatus(StrEnum):
    """Outcome of a drug-library limit check, and of a whole order (its worst check)."""

    WITHIN = "within"
    SOFT_LIMIT = "soft_limit"  # allowed with a documented reason
    HARD_LIMIT = "hard_limit"  # refused

    @property
    def rank(self) -> int:
        """0 within, 1 soft, 2 hard: the worst check is the one with the highest rank."""
        return _STATUS_RANK[self]


_STATUS_RANK = {LimitStatus.WITHIN: 0, LimitStatus.SOFT_LIMIT: 1, LimitStatus.HARD_LIMIT: 2}


class LimitLevel(StrEnum):
    """How binding a drug-library limit is."""

    SOFT = "soft"
    HARD = "hard"

    @property
    def crossed(self) -> LimitStatus:
        """The status of an order that crosses a limit of this level."""
        return LimitStatus.HARD_LIMIT if self is LimitLevel.HARD else LimitStatus.SOFT_LIMIT


class LimitBound(StrEnum):
    """Which side of a limit is allowed; ``MEMBER`` for a value that must be in a list."""

    LOWER = "lower"
    UPPER = "upper"
    MEMBER = "member"


class DoseUnit(StrEnum):
    """Units in which a dose may be ordered (ISMP spelling)."""

    MG_PER_KG_PER_H = "mg/kg/h"
    MG_PER_H = "mg/h"
    MCG_PER_KG_PER_MIN = "mcg/kg/min"
    MG_PER_KG = "mg/kg"
    MG = "mg"

    @property
    def is_amount(self) -> bool:
        """True for an amount (mg, mg/kg) given over the order's duration, not a rate."""
        return self in (DoseUnit.MG, DoseUnit.MG_PER_KG)

    @property
    def is_weight_based(self) -> bool:
        """True when the dose is per kg of dosing weight."""
        return self in (DoseUnit.MG_PER_KG_PER_H, DoseUnit.MCG_PER_KG_PER_MIN, DoseUnit.MG_PER_KG)


class OutputKind(StrEnum):
    """Which concentration the solver computes (all in mg/L)."""

    PLASMA = "plasma"  # parent drug in the central compartment
    EFFECT = "effect"  # parent drug at the effect site (needs ke0)
    METABOLITE = "metabolite"  # norketamine


class Entry(StrEnum):
    """Where an administration enters the model."""

    CENTRAL = "central"  # intravenous, transdermal release
    DEPOT = "depot"  # first-order absorption (with F and lag)
