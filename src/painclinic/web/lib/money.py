"""Money as a reader of the active language writes it: $1,234.56 in English, 1 234,56 $ in
French (the Canadian conventions). Integer cents in, text out; never a float."""

from __future__ import annotations

from django.utils.translation import get_language

NBSP = "\u00a0"


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    if (get_language() or "").startswith("fr"):
        grouped = f"{whole:,}".replace(",", NBSP)
        return f"{sign}{grouped},{part:02d}{NBSP}$"
    return f"{sign}${whole:,}.{part:02d}"
