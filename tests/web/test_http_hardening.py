"""Headers and methods on every URL, as every role, on a clinic with one of everything.

- No page is kept by a browser or proxy cache (``Cache-Control: no-store``, ``Pragma:
  no-cache``): a shared chairside tablet must not show a record after sign-out.
- A page answers only the methods it serves: DELETE, PUT and PATCH get 405 from a role that
  may open the page (403 from one that may not); read-only pages answer POST with 405 too.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from painclinic.web.accounts.models import Role
from tests.web.world import (
    PUBLIC_URLS,
    access_matrix,
    client_as,
    url_of,
    url_patterns,
)

pytestmark = pytest.mark.django_db

ROLES = list(Role)


def assert_not_cached(response, what) -> None:
    cache_control = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    assert "no-store" in cache_control, (what, response.status_code, response.get("Cache-Control"))
    assert "private" in cache_control, what
    assert response.get("Pragma") == "no-cache", what
    # and the security headers of every page (checklist item 22), on every answer
    csp = response["Content-Security-Policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "frame-ancestors 'none'" in csp, what
    assert response["X-Content-Type-Options"] == "nosniff", what
    assert response["X-Frame-Options"] == "DENY", what
    assert response["Referrer-Policy"] == "same-origin", what


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
def test_no_page_may_be_cached_by_the_browser(role, world):
    client = client_as(world, role)
    for route in url_patterns():
        url = url_of(route.name, world)
        response = client.get(url)
        assert response.status_code < 500, (route.name, response.status_code)
        assert_not_cached(response, route.name)


def test_anonymous_pages_and_redirects_are_not_cached_either(world):
    """And every URL but the public ones sends an anonymous visitor to the log-in page."""
    client = Client()
    login = reverse("accounts:login")
    for route in url_patterns():
        url = url_of(route.name, world)
        response = client.get(url)
        assert_not_cached(response, route.name)
        if route.name not in PUBLIC_URLS:
            assert response.status_code == 302, (route.name, response.status_code)
            assert response["Location"] == f"{login}?next={url}", route.name


def test_static_files_keep_their_cache(client):
    response = client.get("/static/painclinic/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
def test_other_methods_are_not_allowed(role, world):
    matrix = access_matrix()
    client = client_as(world, role)
    for route in url_patterns():
        url = url_of(route.name, world)
        allowed = route.name in PUBLIC_URLS or role in matrix[route.name]
        expected = 405 if allowed else 403
        for method in ("delete", "put", "patch"):
            status = getattr(client, method)(url).status_code
            assert status == expected, (route.name, method.upper(), status)


def test_anonymous_visitors_get_405_from_public_pages_for_other_methods(world):
    client = Client()
    for name in sorted(PUBLIC_URLS):
        for method in ("delete", "put", "patch"):
            status = getattr(client, method)(url_of(name, world)).status_code
            assert status == 405, (name, method.upper(), status)


# Pages that only read: a POST is refused like any other method.
READ_ONLY = {
    "home",
    "public:index",
    "public:chronic_pain",
    "public:ketamine",
    "public:routes",
    "public:conditions",
    "public:relief",
    "public:costs",
    "public:infusion_day",
    "healthz",
    "accounts:ping",
    "accounts:staff_list",
    "patients:search",
    "patients:detail",
    "patients:history",
    "portal:home",
    "portal:consent",
    "portal:access_log",
    "audit:report",
    "audit:export",
    "assessments:patient",
    "assessments:result",
    "assessments:decision",
    "treatments:patient",
    "treatments:consent",
    "treatments:plan",
    "scheduling:board",
    "scheduling:patient",
    "infusions:serious_events",
    "infusions:serious_events_to_report",
    "infusions:session",
    "infusions:concentration_chart",
    "drugregister:home",
    "drugregister:discrepancies",
    "drugregister:entries",
}


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
def test_read_only_pages_refuse_post(role, world):
    matrix = access_matrix()
    client = client_as(world, role)
    for name in sorted(READ_ONLY):
        allowed = name in PUBLIC_URLS or role in matrix[name]
        status = client.post(url_of(name, world)).status_code
        assert status == (405 if allowed else 403), (name, status)
        if allowed:
            assert client.head(url_of(name, world)).status_code != 405, name
