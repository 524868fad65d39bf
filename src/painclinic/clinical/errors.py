"""The one exception the clinical core raises for bad input."""

from __future__ import annotations


class ClinicalInputError(ValueError):
    """Bad clinical input; ``field`` names the offending item (``items[8]``, ``vitals.sbp``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)
