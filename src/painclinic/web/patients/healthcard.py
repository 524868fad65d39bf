"""Ontario health card numbers: 10 digits whose last digit is a Luhn (mod 10) check digit.

Source: Ontario Ministry of Health, Health Card Validation reference manual (the health number is
validated with the Luhn mod-10 algorithm over the first nine digits; the tenth is the check digit).
The optional version code is one or two letters.
"""

from __future__ import annotations

import re

_VERSION_CODE = re.compile(r"^[A-Z]{1,2}$")


def normalise_health_number(raw: str) -> str:
    """Drop spaces and dashes people type between the digit groups (1234-567-890)."""
    return re.sub(r"[\s-]", "", raw or "")


def luhn_check_digit(first_nine: str) -> int:
    """The check digit that makes ``first_nine + digit`` pass the Luhn test."""
    total = 0
    # Double every second digit counted from the right of the full 10-digit number, i.e. the
    # 1st, 3rd, 5th, 7th and 9th digits of the nine.
    for index, char in enumerate(first_nine):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def health_number_problem(number: str) -> str | None:
    """Return why ``number`` is not a valid Ontario health number, or None when it is."""
    if not number.isdigit() or len(number) != 10:
        return "An Ontario health card number has exactly 10 digits."
    if luhn_check_digit(number[:9]) != int(number[9]):
        return "This health card number's check digit is wrong: check for a typing error."
    return None


def version_code_problem(code: str) -> str | None:
    if code and not _VERSION_CODE.match(code):
        return "The version code is one or two letters (for example AB)."
    return None
