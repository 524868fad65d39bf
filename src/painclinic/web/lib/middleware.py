"""Responses that must not outlive the visit: no browser or proxy cache keeps a page.

Every page behind the log-in can show personal health information, and a shared chairside
tablet must not show a record from its cache after the nurse signed out (the back button, a
restored tab). The simplest safe rule: every response the app itself makes (WhiteNoise's
static files are answered before this middleware and keep their long cache) carries
``Cache-Control: no-store`` (with ``no-cache, must-revalidate, private, max-age=0`` and
``Expires`` for old caches) and ``Pragma: no-cache`` for HTTP/1.0 proxies.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers


class NoStoreMiddleware:
    """``Cache-Control: no-store`` and ``Pragma: no-cache`` on every response of the app."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        add_never_cache_headers(response)
        response["Pragma"] = "no-cache"
        return response
