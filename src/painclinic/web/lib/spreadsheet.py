"""Cells of an exported file that a spreadsheet would run as a formula are made inert.

A CSV opened in Excel, LibreOffice or Google Sheets treats a cell beginning with ``=``, ``+``,
``-`` or ``@`` as a formula (tab and carriage return can hide one), and a formula can fetch a
URL with the row's data or start a program (CSV injection, OWASP). Text typed by anyone, even
an anonymous visitor's log-in name that the audit trail records, reaches the audit export, so
every text cell beginning with one of those characters is written with a leading apostrophe,
which the spreadsheet shows as text and does not display. Numbers (ints, floats) are written as
they are: a negative number is not a formula.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> Any:
    """``value`` as a cell that cannot run: text beginning like a formula gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def inert_row(values: Iterable[Any]) -> list[Any]:
    return [inert(value) for value in values]
