"""The language switch: Django's ``set_language``, opened to everyone (deny-by-default policy)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from painclinic.web.accounts.permissions import public


@public
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """POST ``language`` (and ``next``): remember the choice in the language cookie, go back."""
    return django_set_language(request)
