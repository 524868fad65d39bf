"""ISMP dose strings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from painclinic.pharmacology import PharmacologyInputError, format_dose
from painclinic.pharmacology.formatting import ISMP_PATTERN, format_number


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (0.5, "mg", "0.5 mg"),
        (25, "mg/h", "25 mg/h"),
        (25.0, "mg/h", "25 mg/h"),
        (4.1666667, "mL/h", "4.17 mL/h"),
        (40, "mcg/kg/min", "40 mcg/kg/min"),
        (40, "µg/kg/min", "40 mcg/kg/min"),
        (40, "ug/kg/min", "40 mcg/kg/min"),
        (12, "ml/hr", "12 mL/h"),
        (0.35, "mg/kg/h", "0.35 mg/kg/h"),
        (1000, "mg", "1,000 mg"),
        (0, "mg", "0 mg"),
        (9.9996, "mg", "10 mg"),
    ],
)
def test_examples(value: float, unit: str, expected: str) -> None:
    assert format_dose(value, unit) == expected


def test_fixed_decimals_drop_trailing_zero() -> None:
    assert format_dose(24.0, "mL/h", decimals=1) == "24 mL/h"
    assert format_dose(24.55, "mL/h", decimals=1) == "24.6 mL/h"


def test_negative_values_are_refused() -> None:
    with pytest.raises(PharmacologyInputError, match="value"):
        format_dose(-1, "mg")


@given(
    st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False),
    st.sampled_from(["mg", "mg/h", "mL/h", "mcg/kg/min", "mg/kg/h", "ug", "µg/kg/min"]),
)
def test_every_formatted_string_follows_ismp(value: float, unit: str) -> None:
    text = format_dose(value, unit)
    assert ISMP_PATTERN.match(text), text
    assert "µ" not in text and "ug" not in text
    assert not text.startswith(".")


@given(
    st.floats(min_value=1e-12, max_value=1e6, allow_nan=False),
    st.integers(min_value=0, max_value=3),
)
def test_a_positive_value_never_formats_as_zero(value: float, decimals: int) -> None:
    assert format_number(value, decimals=decimals) != "0"
    assert float(format_number(value).replace(",", "")) > 0
