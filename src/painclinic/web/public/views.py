"""Public patient information: no login, no personal data (issue #14, item 1)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from painclinic.web.accounts.permissions import public
from painclinic.web.lib.clinicdate import clinic_today
from painclinic.web.public import content

View = Callable[..., HttpResponse]

# (slug, navigation label); the index is "About infusions".
TOPICS = (
    ("chronic_pain", _("Chronic pain")),
    ("ketamine", _("What ketamine is")),
    ("routes", _("Ways it is given")),
    ("conditions", _("Conditions with evidence")),
    ("relief", _("How long relief lasts")),
    ("costs", _("Costs")),
    ("infusion_day", _("Your infusion day")),
)


def _render(request: HttpRequest, slug: str) -> HttpResponse:
    page, translated = content.localized_page(slug)
    context: dict[str, Any] = {
        "page": page,
        "page_translated": translated,
        "topics": TOPICS,
        "slug": slug,
        "clinic_name": settings.CLINIC_NAME,
    }
    if slug == "costs":
        today = clinic_today()
        context["price_groups"] = content.price_list(today)
        context["prices_as_of"] = today
        context["hst_rate"] = content.hst_rate_text(today)
    if slug == "infusion_day":
        context["what_to_bring"] = settings.INFUSION_WHAT_TO_BRING
    return render(request, "public/page.html", context)


def _page_view(slug: str) -> View:
    @public
    @require_safe
    def view(request: HttpRequest) -> HttpResponse:
        return _render(request, slug)

    view.__name__ = view.__qualname__ = slug
    return view


index = _page_view("index")
chronic_pain = _page_view("chronic_pain")
ketamine = _page_view("ketamine")
routes = _page_view("routes")
conditions = _page_view("conditions")
relief = _page_view("relief")
costs = _page_view("costs")
infusion_day = _page_view("infusion_day")


@lru_cache(maxsize=1)
def _view_gates() -> tuple[Callable[..., HttpResponse | None], ...]:
    """Every middleware ``process_view`` of the project, in order (the gates a page passes)."""
    gates = []
    for dotted in settings.MIDDLEWARE:
        middleware = import_string(dotted)
        if hasattr(middleware, "process_view"):
            gates.append(middleware(lambda request: HttpResponse()).process_view)
    return tuple(gates)


def front_door(signed_in_home: View) -> View:
    """``/``: the public home for a visitor, ``signed_in_home`` for a signed-in user.

    The front door itself is public, so the middleware does not gate it; for a signed-in user
    the signed-in home is run through the same gates (two-factor, password change, role) it
    would meet at its own address.
    """

    @public
    @require_safe
    def home(request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return _render(request, "index")
        for gate in _view_gates():
            refused = gate(request, signed_in_home, (), {})
            if refused is not None:
                return refused
        return signed_in_home(request)

    return home
