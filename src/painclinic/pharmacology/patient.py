"""Patient covariates (frozen), with units in every field name."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from painclinic.pharmacology.errors import PharmacologyInputError


class Sex(enum.Enum):
    """Biological sex as used by covariate equations (IBW); ``UNKNOWN`` when not recorded."""

    FEMALE = "female"
    MALE = "male"
    UNKNOWN = "unknown"


#: Covariates no human patient has are refused before any model or calculator sees them, with
#: the same bounds as the clinical core's protocol planner (``painclinic.clinical``: weight
#: 1-400 kg, height 50-260 cm). A weight of 800 kg is a typing slip (pounds, an extra digit);
#: simulated or dosed, it would only give a confident wrong answer. Inside these bounds, each
#: model warns when a covariate is outside the population it was validated in
#: (``ModelSpec.validity_warnings``).
COVARIATE_RANGES: dict[str, tuple[float, float, str]] = {
    "weight_kg": (1.0, 400.0, "kg (kilograms only)"),
    "height_cm": (50.0, 260.0, "cm"),
    "age_years": (0.0, 130.0, "years"),
}


@dataclass(frozen=True)
class Patient:
    """Covariates of one patient.

    Attributes
    ----------
    weight_kg : float or None
        Total body weight in kilograms (1-400 kg).
    height_cm : float or None
        Height in centimetres (50-260 cm).
    age_years : float or None
        Age in years (0-130).
    sex : Sex
        Biological sex (``Sex.UNKNOWN`` if not given).

    Raises
    ------
    PharmacologyInputError
        A covariate outside ``COVARIATE_RANGES`` (``field`` is ``patient.<name>``).
    """

    weight_kg: float | None = None
    height_cm: float | None = None
    age_years: float | None = None
    sex: Sex = Sex.UNKNOWN

    def __post_init__(self) -> None:
        for name, (low, high, unit) in COVARIATE_RANGES.items():
            value = getattr(self, name)
            if value is None or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if not (math.isfinite(value) and low <= value <= high):
                raise PharmacologyInputError(
                    f"patient.{name}",
                    f"must be between {low:g} and {high:g} {unit}, got {value:g}: no model or "
                    "dose calculation is valid for it (check the number and the unit)",
                )


def positive_number(value: Any, field: str, *, allow_zero: bool = False) -> float:
    """Coerce ``value`` to a finite float that is positive (or non-negative).

    Parameters
    ----------
    value : Any
        The raw value (booleans are refused).
    field : str
        Dotted field path used in the error message.
    allow_zero : bool
        Accept 0 as well.

    Returns
    -------
    float
        The validated number.

    Raises
    ------
    PharmacologyInputError
        If the value is missing, not a number, not finite, or out of range.
    """
    if value is None:
        raise PharmacologyInputError(field, "is required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PharmacologyInputError(field, f"must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise PharmacologyInputError(field, "must be finite")
    if number < 0 or (number == 0 and not allow_zero):
        raise PharmacologyInputError(
            field, f"must be {'non-negative' if allow_zero else 'positive'}, got {number:g}"
        )
    return number


def parse_sex(value: Any, field: str) -> Sex:
    """Parse ``"female"``/``"male"`` (also ``"f"``/``"m"``) or None into :class:`Sex`.

    Parameters
    ----------
    value : Any
        The sex as given (case-insensitive text, or None for ``Sex.UNKNOWN``).
    field : str
        Dotted path of the value, named by the error (``"patient.sex"``).

    Returns
    -------
    Sex

    Raises
    ------
    PharmacologyInputError
        Any other value.
    """
    if value is None:
        return Sex.UNKNOWN
    if isinstance(value, Sex):
        return value
    if isinstance(value, enum.Enum):
        value = value.value
    text = str(value).strip().lower()
    aliases = {"f": "female", "m": "male", "woman": "female", "man": "male"}
    text = aliases.get(text, text)
    try:
        return Sex(text)
    except ValueError:
        raise PharmacologyInputError(
            field, f"must be 'female', 'male' or 'unknown', got {value!r}"
        ) from None


def parse_patient(data: Any, field: str = "patient") -> Patient:
    """Build a :class:`Patient` from a mapping (or return it unchanged).

    Parameters
    ----------
    data : Mapping or Patient or None
        ``{"weight_kg", "height_cm", "age_years", "sex"}``; all optional here (models and
        the calculator check what they need).
    field : str
        Path prefix for error messages.
    """
    if isinstance(data, Patient):
        return data
    if data is None:
        return Patient()
    if not isinstance(data, Mapping):
        raise PharmacologyInputError(field, "must be an object")
    known = {"weight_kg", "height_cm", "age_years", "sex"}
    for key in data:
        if key not in known:
            raise PharmacologyInputError(
                f"{field}.{key}", f"unknown field (expected one of {sorted(known)})"
            )

    def opt(key: str) -> float | None:
        raw = data.get(key)
        return None if raw is None else positive_number(raw, f"{field}.{key}")

    return Patient(
        weight_kg=opt("weight_kg"),
        height_cm=opt("height_cm"),
        age_years=opt("age_years"),
        sex=parse_sex(data.get("sex"), f"{field}.sex"),
    )
