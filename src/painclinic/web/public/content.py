"""The public pages' text, from a data file the clinic edits (``data/public_info.json``).

The clinic may publish its own wording: ``PAINCLINIC_PUBLIC_INFO_DIR`` names a folder holding a
``public_info.json`` of the same shape, read instead of the demo's. A French version sits beside
it as ``public_info.fr.json`` (same shape; any pages it has, the others shown in English with a
note; references default to the English file's). The file is read once per
process (restart to publish an edit). Each paragraph names its references by key; a page
numbers them in the order they first appear. Prices are not in the file: the costs page reads
the fee schedule in effect today.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from painclinic.web.lib.clinicdate import clinic_today
from painclinic.web.lib.wording import without_evidence_tags
from painclinic.web.treatments.models import FeeBasis, FeeItem, TaxCategory
from painclinic.web.treatments.services import fees_in_effect

FILE_NAME = "public_info.json"
DEMO_PATH = Path(__file__).with_name("data") / FILE_NAME
# The pages, in the order the navigation lists them.
PAGES = (
    "index",
    "chronic_pain",
    "ketamine",
    "routes",
    "conditions",
    "relief",
    "costs",
    "infusion_day",
)


@dataclass(frozen=True)
class Reference:
    number: int
    text: str
    url: str


@dataclass(frozen=True)
class Claim:
    text: str
    refs: tuple[int, ...]


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: tuple[Claim, ...]
    items: tuple[Claim, ...]


@dataclass(frozen=True)
class Page:
    slug: str
    title: str
    lead: str
    sections: tuple[Section, ...]
    references: tuple[Reference, ...]


class ContentError(ValueError):
    """The clinic's file is not usable (a missing page or an unknown reference key)."""


def content_path() -> Path:
    folder = getattr(settings, "PUBLIC_INFO_DIR", "")
    return Path(folder) / FILE_NAME if folder else DEMO_PATH


@lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, Page]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return _pages(data, data.get("references", {}), path, required=True)


@lru_cache(maxsize=4)
def _load_translation(path: Path, english: Path) -> dict[str, Page]:
    """A translation's pages (``public_info.fr.json``): any it has, each complete; its
    references default to the English file's (the sources' titles are not translated)."""
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    sources = {
        **json.loads(english.read_text(encoding="utf-8")).get("references", {}),
        **data.get("references", {}),
    }
    return _pages(data, sources, path, required=False)


def _pages(
    data: dict[str, Any], sources: dict[str, Any], path: Path, *, required: bool
) -> dict[str, Page]:
    pages: dict[str, Page] = {}
    for slug in PAGES:
        raw = data.get("pages", {}).get(slug)
        if raw is None:
            if not required:
                continue
            raise ContentError(f"{path}: the page {slug!r} is missing")
        numbers: dict[str, int] = {}
        sections = tuple(
            Section(
                heading=_clean(s["heading"]),
                paragraphs=_claims(s.get("paragraphs", []), sources, numbers, f"{path}: {slug}"),
                items=_claims(s.get("items", []), sources, numbers, f"{path}: {slug}"),
            )
            for s in raw.get("sections", [])
        )
        references = tuple(
            Reference(
                number=n,
                text=_clean(sources[key]["text"]),
                url=str(sources[key].get("url", "")),
            )
            for key, n in sorted(numbers.items(), key=lambda kv: kv[1])
        )
        pages[slug] = Page(
            slug=slug,
            title=_clean(raw["title"]),
            lead=_clean(raw.get("lead", "")),
            sections=sections,
            references=references,
        )
    return pages


def _claims(
    entries: list[dict[str, Any]], sources: dict[str, Any], numbers: dict[str, int], where: str
) -> tuple[Claim, ...]:
    """Claims with their references numbered in order of first use on the page (``numbers``)."""
    found = []
    for entry in entries:
        refs = []
        for key in entry.get("refs", []):
            if key not in sources:
                raise ContentError(f"{where}: unknown reference {key!r}")
            refs.append(numbers.setdefault(key, len(numbers) + 1))
        found.append(Claim(text=_clean(entry["text"]), refs=tuple(refs)))
    return tuple(found)


def _clean(text: object) -> str:
    # A clinic's file copied from the clinical reference may carry its evidence tags.
    return without_evidence_tags(text)


def translation_path(language: str) -> Path:
    """The translated file beside the English one: ``public_info.fr.json`` for French."""
    english = content_path()
    return english.with_name(f"{english.stem}.{language}{english.suffix}")


def page(slug: str) -> Page:
    """The page in the active language when the clinic's text has it, else in English."""
    return localized_page(slug)[0]


def localized_page(slug: str) -> tuple[Page, bool]:
    """The page in the active language if translated, and whether it is (English: True)."""
    language = (get_language() or "en").split("-")[0]
    if language != "en":
        translated = _load_translation(translation_path(language), content_path())
        if slug in translated:
            return translated[slug], True
        return _load(content_path())[slug], False
    return _load(content_path())[slug], True


# --- prices -------------------------------------------------------------------------------------

# What a patient may be charged, in the order they meet it; insured items are never billed to
# them and are left out.
PRICE_GROUPS = (
    (FeeBasis.PER_CONSULT, _("Before treatment")),
    (FeeBasis.PER_SESSION, _("Each infusion")),
    (FeeBasis.PACKAGE, _("Series packages")),
    (FeeBasis.MISSED, _("Missed or late-cancelled appointments")),
    (FeeBasis.LATE_CANCEL, _("Missed or late-cancelled appointments")),
    (FeeBasis.SERVICE, _("Forms and reports")),
)


@dataclass(frozen=True)
class Price:
    description: str
    amount_cents: int
    hst_applies: bool
    sessions: int | None


@dataclass(frozen=True)
class PriceGroup:
    heading: str
    prices: tuple[Price, ...]


def _public_description(item: FeeItem) -> str:
    return item.description.strip()


def price_list(on: dt.date | None = None) -> list[PriceGroup]:
    """The fee schedule in effect on ``on`` (default today), grouped as a patient meets it."""
    items = [i for i in fees_in_effect(on) if i.tax_category != TaxCategory.INSURED]
    groups: dict[str, list[Price]] = {}  # by heading, in PRICE_GROUPS order
    for basis, heading in PRICE_GROUPS:
        for item in sorted(
            (i for i in items if i.basis == basis), key=lambda i: (i.drug, i.amount_cents)
        ):
            groups.setdefault(str(heading), []).append(
                Price(
                    description=_public_description(item),
                    amount_cents=item.amount_cents,
                    hst_applies=item.tax_category == TaxCategory.TAXABLE,
                    sessions=item.package_sessions,
                )
            )
    return [PriceGroup(heading=h, prices=tuple(p)) for h, p in groups.items()]


def hst_rate_text(on: dt.date | None = None) -> str:
    """The HST rate in effect on ``on`` as a person reads it ("13%")."""
    from painclinic.web.lib.tax import tax_rules

    return tax_rules().rate_on(on or clinic_today()).percent_text
