"""Strict helpers that turn parsed JSON into checked Python values, naming the bad item."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from painclinic.clinical.errors import ClinicalInputError


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def as_mapping(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ClinicalInputError(
            path or "<root>", f"expected an object, got {type(value).__name__}"
        )
    for key in value:
        if not isinstance(key, str):
            raise ClinicalInputError(path or "<root>", f"keys must be strings, got {key!r}")
    return value


def check_keys(
    value: Mapping[str, Any],
    path: str,
    required: Iterable[str],
    optional: Iterable[str] = (),
) -> None:
    """Fail on a missing required key or any unknown key (typos must not be silently ignored)."""
    required = list(required)
    allowed = set(required) | set(optional)
    for key in value:
        if key not in allowed:
            raise ClinicalInputError(join(path, key), f"unknown item (allowed: {sorted(allowed)})")
    for key in required:
        if key not in value:
            raise ClinicalInputError(join(path, key), "missing")


def as_bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise ClinicalInputError(path, f"expected true or false, got {value!r}")
    return value


def as_int(value: object, path: str, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ClinicalInputError(path, f"expected a whole number, got {value!r}")
    if lo is not None and value < lo:
        raise ClinicalInputError(path, f"must be between {lo} and {hi}, got {value}")
    if hi is not None and value > hi:
        raise ClinicalInputError(path, f"must be between {lo} and {hi}, got {value}")
    return value


def as_number(value: object, path: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ClinicalInputError(path, f"expected a number, got {value!r}")
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ClinicalInputError(path, f"expected a finite number, got {value!r}")
    if lo is not None and number < lo:
        raise ClinicalInputError(path, f"must be at least {lo}, got {value}")
    if hi is not None and number > hi:
        raise ClinicalInputError(path, f"must be at most {hi}, got {value}")
    return number


def as_str(value: object, path: str, choices: Iterable[str] | None = None) -> str:
    if not isinstance(value, str):
        raise ClinicalInputError(path, f"expected text, got {value!r}")
    if choices is not None:
        options = list(choices)
        if value not in options:
            raise ClinicalInputError(path, f"must be one of {options}, got {value!r}")
    return value


def as_list(value: object, path: str, length: int | None = None) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ClinicalInputError(path, f"expected a list, got {type(value).__name__}")
    if length is not None and len(value) != length:
        raise ClinicalInputError(path, f"expected exactly {length} entries, got {len(value)}")
    return list(value)


def optional(value: object) -> bool:
    """True when a value is present (not None)."""
    return value is not None
