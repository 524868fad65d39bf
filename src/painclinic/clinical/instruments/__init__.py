"""Instruments: each has ``template()`` and ``score(answers)``; see ``INSTRUMENTS``."""

from __future__ import annotations

from typing import Any

from painclinic.clinical.instruments import criteria, neuropathic, scales
from painclinic.clinical.instruments.base import (
    REGISTRY,
    Instrument,
    InstrumentResult,
    InstrumentTemplate,
    ItemKind,
    ItemSpec,
    get_instrument,
)

INSTRUMENTS = REGISTRY

__all__ = [
    "INSTRUMENTS",
    "Instrument",
    "InstrumentResult",
    "InstrumentTemplate",
    "ItemKind",
    "ItemSpec",
    "criteria",
    "get_instrument",
    "neuropathic",
    "scales",
    "score",
    "template",
]


def template(name: str) -> InstrumentTemplate:
    """The template (items, allowed values, wording source, skeleton) of one instrument."""
    return get_instrument(name).template()


def score(name: str, answers: Any) -> InstrumentResult:
    """Validate and score one instrument's answers; raises ClinicalInputError naming the item."""
    return get_instrument(name).score(answers)
