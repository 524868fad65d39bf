"""The ``<id:...>`` path converter: a row id the database can hold, or no match (404).

Every primary key of the project is a ``BigAutoField`` (a signed 64-bit integer on SQLite and
PostgreSQL). Django's ``<int:...>`` converter takes any run of digits, so ``/infusions/10**30/``
reached a view and ended in an integer overflow in the database driver (HTTP 500). This
converter matches only 0 .. 2**63 - 1 (at most 19 digits): anything else does not resolve, and
Django answers 404 before any view, middleware check or query runs.

Importing this module registers the converter once; every ``urls.py`` imports it before its
patterns (``from painclinic.web.lib import converters  # noqa: F401``).
"""

from __future__ import annotations

from django.urls import register_converter
from django.urls.converters import get_converters

#: The largest id a BigAutoField holds (signed 64-bit).
MAX_ROW_ID = 2**63 - 1
NAME = "id"


class RowIdConverter:
    """Digits for 0 .. ``MAX_ROW_ID``; anything else is no match."""

    # At most 19 digits (len(str(2**63 - 1)) == 19); the range check is in to_python.
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ROW_ID:
            raise ValueError(f"{value} is beyond the database's id range")  # -> no match, 404
        return number

    def to_url(self, value: int | str) -> str:
        number = int(value)
        if not 0 <= number <= MAX_ROW_ID:
            raise ValueError(f"{value} is not a row id")
        return str(number)


def register() -> None:
    """Register ``<id:...>`` (idempotent: Django 6 refuses a second registration)."""
    if NAME not in get_converters():
        register_converter(RowIdConverter, NAME)


register()
