"""ISMP-style dose strings: leading zero, no trailing zero, a space before the unit, "mcg".

Institute for Safe Medication Practices, *List of Error-Prone Abbreviations, Symbols, and
Dose Designations*: never a naked decimal (".5 mg" → "0.5 mg"), never a trailing zero
("5.0 mg" → "5 mg"), "mcg" rather than "µg"/"ug", a space between number and unit, and
commas in numbers of 1,000 or more.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal

from painclinic.pharmacology.errors import PharmacologyInputError

#: Significant digits shown by default (integer digits are never rounded away).
DEFAULT_SIGNIFICANT_DIGITS = 3

_UNIT_FIXES = (
    (re.compile(r"(µ|μ|u)g"), "mcg"),
    (re.compile(r"\bml\b|\bML\b|\bMl\b"), "mL"),
    (re.compile(r"(?<=/)hr\b|(?<=/)hour\b"), "h"),
)

#: A formatted dose: no naked decimal, no trailing zero, thousands separated by commas.
ISMP_PATTERN = re.compile(r"^(0|[1-9]\d{0,2}(,\d{3})*)(\.\d*[1-9])? \S+$")


def normalise_unit(unit: str) -> str:
    """Spell a unit the ISMP way (``"ug/kg/min"`` → ``"mcg/kg/min"``, ``"ml/hr"`` → ``"mL/h"``).

    Parameters
    ----------
    unit : str
        A unit as typed (``"µg/kg/min"``, ``"ML/HR"``...).

    Returns
    -------
    str
        ``mcg`` for micrograms, ``mL`` for millilitres, ``h`` for hours.
    """
    text = unit.strip()
    for pattern, repl in _UNIT_FIXES:
        text = pattern.sub(repl, text)
    return text


def round_half_up(value: float, decimals: int) -> float:
    """Round ``value`` to ``decimals`` places, halves away from zero (decimal arithmetic).

    Parameters
    ----------
    value : float
        The number to round (any unit).
    decimals : int
        Decimal places to keep (may be negative: tens, hundreds).

    Returns
    -------
    float
    """
    q = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(value)).quantize(q, rounding=ROUND_HALF_UP))


def _decimals_for(value: float, significant: int) -> int:
    if value == 0:
        return 0
    exponent = math.floor(math.log10(abs(value)))
    return max(0, significant - 1 - exponent)


def format_number(
    value: float, *, decimals: int | None = None, significant: int | None = None
) -> str:
    """Format a non-negative number without trailing zeros, with a leading zero and commas.

    Parameters
    ----------
    value : float
        Non-negative, finite.
    decimals : int, optional
        Fixed number of decimal places (e.g. a pump's precision); trailing zeros are
        still removed. A positive value is never shown as 0: more places are used instead.
    significant : int, optional
        Significant digits (default 3) when ``decimals`` is not given.

    Returns
    -------
    str
    """
    if isinstance(value, bool) or not math.isfinite(value):
        raise PharmacologyInputError("value", f"must be a finite number, got {value!r}")
    if value < 0:
        raise PharmacologyInputError("value", f"must not be negative, got {value:g}")
    if decimals is None:
        decimals = _decimals_for(value, significant or DEFAULT_SIGNIFICANT_DIGITS)
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    while value > 0 and rounded == 0:
        decimals += 1
        rounded = Decimal(repr(value)).quantize(
            Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP
        )
    text = f"{rounded:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_dose(value: float, unit: str, *, decimals: int | None = None) -> str:
    """Format a dose or rate the ISMP way: ``0.5 mg``, ``25 mg/h``, ``4.17 mL/h``.

    Parameters
    ----------
    value : float
        Non-negative amount in ``unit``.
    unit : str
        Unit text; normalised (``µg``/``ug`` → ``mcg``, ``ml`` → ``mL``).
    decimals : int, optional
        Fixed decimal places (pump precision); default is 3 significant digits.

    Returns
    -------
    str
        e.g. ``format_dose(0.35, "mg/kg/h") == "0.35 mg/kg/h"``.

    Examples
    --------
    >>> format_dose(0.5, "mg")
    '0.5 mg'
    >>> format_dose(4.1666, "ml/h")
    '4.17 mL/h'
    >>> format_dose(40, "ug/kg/min")
    '40 mcg/kg/min'
    >>> format_dose(1000, "mg")
    '1,000 mg'
    """
    return f"{format_number(value, decimals=decimals)} {normalise_unit(unit)}"


def decimals_of_step(step: float) -> int:
    """Number of decimal places of a pump step such as 0.1 or 0.01 (0 for 1).

    Parameters
    ----------
    step : float
        Pump precision (e.g. 0.1 mL/h), or any positive increment.

    Returns
    -------
    int
        Decimal places needed to show a multiple of ``step`` exactly.
    """
    text = format(Decimal(repr(step)).normalize(), "f")
    return len(text.split(".")[1]) if "." in text else 0
