"""Instruments: each has ``template()`` and ``score(answers)``; see ``INSTRUMENTS``."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
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
    "answers_from_items",
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


_KEY_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def answers_from_items(name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """One instrument's answers JSON from its items' values keyed by item key.

    ``values`` maps ``ItemSpec.key`` (``"items[3]"``, ``"severity.worst"``) to the answer; an
    item missing from it is null (unanswered), never the skeleton's placeholder. Forms that ask
    item by item and questionnaires answered one screen at a time both build answers this way.
    """
    form = template(name)
    data: dict[str, Any] = copy.deepcopy(dict(form.skeleton))
    for spec in form.items:
        path = [key if key else int(index) for key, index in _KEY_TOKEN.findall(spec.key)]
        target: Any = data
        for token in path[:-1]:
            target = target[token]
        target[path[-1]] = values.get(spec.key)
    return data
