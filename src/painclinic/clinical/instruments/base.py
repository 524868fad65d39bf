"""Shared shapes for every instrument: template, result, registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from painclinic.clinical.errors import ClinicalInputError
from painclinic.clinical.sources import get_source


@dataclass(frozen=True)
class ItemSpec:
    """One answer item: its key path in the answers JSON, allowed values, and what it asks."""

    key: str
    allowed: str
    wording: str

    def to_dict(self) -> dict[str, str]:
        return {"key": self.key, "allowed": self.allowed, "wording": self.wording}


@dataclass(frozen=True)
class InstrumentTemplate:
    instrument: str
    title: str
    sources: tuple[str, ...]
    items: tuple[ItemSpec, ...]
    skeleton: Mapping[str, Any]
    scoring: str
    licence: str
    wording_source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "title": self.title,
            "sources": [get_source(k).to_dict() for k in self.sources],
            "wording_source": self.wording_source,
            "licence": self.licence,
            "scoring": self.scoring,
            "items": [item.to_dict() for item in self.items],
            "skeleton": self.skeleton,
        }


@dataclass(frozen=True)
class InstrumentResult:
    """Outcome of scoring. ``to_dict`` always carries the six interface keys; instruments
    with sub-scores (ACR 2016 WPI/SSS, BPI severity/interference, Budapest category counts)
    add one more key, ``details``."""

    instrument: str
    score: int | float | None
    band: str | None
    met: bool | None
    flags: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    details: Mapping[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "instrument": self.instrument,
            "score": self.score,
            "band": self.band,
            "met": self.met,
            "flags": list(self.flags),
            "reasons": list(self.reasons),
        }
        if self.details is not None:
            out["details"] = dict(self.details)
        return out


@dataclass(frozen=True)
class Instrument:
    name: str
    title: str
    template: Callable[[], InstrumentTemplate]
    score: Callable[[Any], InstrumentResult]


REGISTRY: dict[str, Instrument] = {}


def register(instrument: Instrument) -> Instrument:
    REGISTRY[instrument.name] = instrument
    return instrument


def get_instrument(name: str) -> Instrument:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ClinicalInputError(
            "instrument", f"unknown instrument {name!r} (known: {sorted(REGISTRY)})"
        ) from None
