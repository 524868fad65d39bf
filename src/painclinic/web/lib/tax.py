"""Sales tax on fee items, from data (``data/tax_rules.json``) with effective dates.

Which fee item is taxable is decided per item by its tax category (``exempt_health``,
``taxable``, ``insured``); the rate in effect on the service date comes from the rates table.
Tax is computed per line and rounded half up to the cent, in integers; an invoice's tax is
the sum of its lines' tax (``docs/billing.md`` explains why per line).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

RULES_PATH = Path(__file__).with_name("data") / "tax_rules.json"

EXEMPT_HEALTH = "exempt_health"
TAXABLE = "taxable"
INSURED = "insured"


@dataclass(frozen=True)
class TaxCategory:
    code: str
    label: str
    taxable: bool
    billable_to_patient: bool
    source: str


@dataclass(frozen=True)
class TaxRate:
    tax: str
    percent_basis_points: int
    effective_from: dt.date
    source: str

    @property
    def percent_text(self) -> str:
        whole, rest = divmod(self.percent_basis_points, 100)
        return f"{whole}%" if not rest else f"{whole}.{rest:02d}".rstrip("0") + "%"


@dataclass(frozen=True)
class TaxRules:
    version: str
    rounding: str
    categories: dict[str, TaxCategory]
    rates: tuple[TaxRate, ...]

    def category(self, code: str) -> TaxCategory:
        try:
            return self.categories[code]
        except KeyError:
            raise ValueError(f"unknown tax category {code!r}") from None

    def rate_on(self, on: dt.date) -> TaxRate:
        """The rate in effect on ``on`` (the latest whose ``effective_from`` is not after it)."""
        current = [rate for rate in self.rates if rate.effective_from <= on]
        if not current:
            raise ValueError(f"no tax rate in effect on {on:%Y-%m-%d}")
        return max(current, key=lambda rate: rate.effective_from)

    def line_tax_cents(self, amount_cents: int, category: str, on: dt.date) -> int:
        """Tax on one line: ``amount x rate`` rounded half up to the cent (0 when not taxable).

        A negative amount (a credit) is rounded symmetrically, so a credit of a line gives back
        exactly the tax that line charged.
        """
        if not self.category(category).taxable:
            return 0
        points = self.rate_on(on).percent_basis_points
        magnitude = (abs(amount_cents) * points + 5_000) // 10_000
        return magnitude if amount_cents >= 0 else -magnitude


def category_choices() -> list[tuple[str, str]]:
    return [(code, category.label) for code, category in tax_rules().categories.items()]


@lru_cache(maxsize=1)
def tax_rules() -> TaxRules:
    raw = json.loads(RULES_PATH.read_text(encoding="utf-8"))
    categories = {
        code: TaxCategory(
            code=code,
            label=entry["label"],
            taxable=bool(entry["taxable"]),
            billable_to_patient=bool(entry["billable_to_patient"]),
            source=entry["source"],
        )
        for code, entry in raw["categories"].items()
    }
    rates = tuple(
        TaxRate(
            tax=entry["tax"],
            percent_basis_points=int(entry["percent_basis_points"]),
            effective_from=dt.date.fromisoformat(entry["effective_from"]),
            source=entry["source"],
        )
        for entry in raw["rates"]
    )
    return TaxRules(
        version=raw["version"], rounding=raw["rounding"], categories=categories, rates=rates
    )
