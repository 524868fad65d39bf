"""Shared shapes for every instrument: template, result, registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from painclinic.clinical.errors import ClinicalInputError
from painclinic.clinical.sources import get_source

#: An answer value: a whole number, true/false, or one of a few words.
AnswerValue = int | bool | str


class ItemKind(StrEnum):
    """What kind of answer an item takes."""

    INTEGER = "integer"  # a whole number from ``minimum`` to ``maximum`` in ``step``s
    BOOLEAN = "boolean"  # true (yes) or false (no)
    CHOICE = "choice"  # one of the ``options`` (text values)


_VALUE_TYPES: dict[ItemKind, type] = {
    ItemKind.INTEGER: int,
    ItemKind.BOOLEAN: bool,
    ItemKind.CHOICE: str,
}


@dataclass(frozen=True)
class ItemSpec:
    """One answer item: its key path in the answers JSON, what it asks and what it accepts.

    The structured fields (``kind``, ``minimum``, ``maximum``, ``step``, ``options``,
    ``optional``) are what programs use (forms, checks); ``allowed`` is the same rule in words
    for people, and nothing is derived from it.

    Attributes
    ----------
    key : str
        Path of the answer in the answers JSON (``"score"``, ``"items[3]"``,
        ``"symptoms.sensory.allodynia"``).
    allowed : str
        The allowed values in words (shown to people).
    wording : str
        What the item asks (paraphrased where the wording is licensed).
    kind : ItemKind
    minimum, maximum : int or None
        Inclusive bounds of an ``INTEGER`` item (None for other kinds).
    step : int
        Allowed values of an ``INTEGER`` item are ``minimum, minimum + step, ... maximum``.
    options : tuple of (value, label) pairs
        For a ``CHOICE`` item, every allowed value with its label; for an ``INTEGER`` or
        ``BOOLEAN`` item, the labels of the values that have one (possibly none).
    optional : bool
        True when the item may be left unanswered (``null``).
    """

    key: str
    allowed: str
    wording: str
    kind: ItemKind
    minimum: int | None = None
    maximum: int | None = None
    step: int = 1
    options: tuple[tuple[AnswerValue, str], ...] = ()
    optional: bool = False

    def __post_init__(self) -> None:
        if self.kind is ItemKind.INTEGER:
            if self.minimum is None or self.maximum is None or self.minimum > self.maximum:
                raise ValueError(f"{self.key}: an integer item needs minimum <= maximum")
            if self.step < 1 or (self.maximum - self.minimum) % self.step:
                raise ValueError(f"{self.key}: step {self.step} does not reach the maximum")
        elif self.minimum is not None or self.maximum is not None or self.step != 1:
            raise ValueError(f"{self.key}: only integer items have bounds and a step")
        if self.kind is ItemKind.CHOICE and not self.options:
            raise ValueError(f"{self.key}: a choice item needs its options")
        value_type = _VALUE_TYPES[self.kind]
        allowed = set(self.values())
        for value, _label in self.options:
            # type() first: True == 1, so membership alone would let a bool label an integer
            if type(value) is not value_type or value not in allowed:
                raise ValueError(f"{self.key}: option {value!r} is not an allowed value")

    @classmethod
    def integer(
        cls,
        key: str,
        allowed: str,
        wording: str,
        minimum: int,
        maximum: int,
        *,
        step: int = 1,
        labels: Mapping[int, str] | None = None,
        optional: bool = False,
    ) -> ItemSpec:
        """A whole-number item; ``labels`` names some or all of its values."""
        options = tuple((value, label) for value, label in (labels or {}).items())
        return cls(
            key,
            allowed,
            wording,
            ItemKind.INTEGER,
            minimum=minimum,
            maximum=maximum,
            step=step,
            options=options,
            optional=optional,
        )

    @classmethod
    def boolean(
        cls, key: str, allowed: str, wording: str, *, labels: Mapping[bool, str] | None = None
    ) -> ItemSpec:
        """A yes/no item."""
        options = tuple((value, label) for value, label in (labels or {}).items())
        return cls(key, allowed, wording, ItemKind.BOOLEAN, options=options)

    @classmethod
    def choice(cls, key: str, allowed: str, wording: str, options: Mapping[str, str]) -> ItemSpec:
        """One of a few text values (``options``: value -> label)."""
        return cls(key, allowed, wording, ItemKind.CHOICE, options=tuple(options.items()))

    @property
    def labels(self) -> dict[AnswerValue, str]:
        """Value -> label for the values that have one."""
        return dict(self.options)

    def values(self) -> Iterator[AnswerValue]:
        """Every allowed (non-null) value, in order."""
        if self.kind is ItemKind.INTEGER:
            assert self.minimum is not None and self.maximum is not None
            yield from range(self.minimum, self.maximum + 1, self.step)
        elif self.kind is ItemKind.BOOLEAN:
            yield from (False, True)
        else:
            yield from (value for value, _label in self.options)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "allowed": self.allowed,
            "wording": self.wording,
            "kind": str(self.kind),
            "optional": self.optional,
        }
        if self.kind is ItemKind.INTEGER:
            out.update(minimum=self.minimum, maximum=self.maximum, step=self.step)
        out["options"] = [{"value": value, "label": label} for value, label in self.options]
        return out


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
