"""Ids beyond the database's integer range answer 404 on every URL, never 500.

Every URL pattern with an id is asked for ids the database cannot hold (10**30, 2**63) and
for the largest it can (2**63 - 1), as every role, with GET and POST. Before the ``<id:...>``
converter, ``/infusions/10**30/`` reached the hand-built session read and ended in an
integer overflow (HTTP 500).
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import Resolver404, resolve

from painclinic.web.accounts.models import Role
from painclinic.web.lib.converters import MAX_ROW_ID
from tests.conftest import logged_in_client
from tests.web.world import access_matrix, url_patterns

pytestmark = pytest.mark.django_db

BEYOND = (10**30, 2**63, 2**64 + 1, 10**400)
# Parameters that are not row ids, each with a value that resolves: their converters' regexes
# bound them (a clinic day YYYY-MM-DD, a four-digit year), so no integer beyond a range passes.
NOT_IDS = {"slug": "nrs", "isodate": "2026-01-02", "year": "2026"}
ID_ROUTES = [r for r in url_patterns() if any(conv == "id" for conv, _ in r.parameters)]


def filled(route, value: int) -> str:
    return route.path({name: NOT_IDS.get(conv, value) for conv, name in route.parameters})


def test_every_id_parameter_uses_the_range_checked_converter():
    for route in url_patterns():
        for converter, name in route.parameters:
            assert converter in ("id", *NOT_IDS), (route.name, name, converter)
    assert len(ID_ROUTES) >= 50


@pytest.mark.parametrize("value", BEYOND, ids=lambda v: f"{len(str(v))}-digits")
def test_an_id_beyond_the_range_does_not_resolve(value):
    for route in ID_ROUTES:
        with pytest.raises(Resolver404):
            resolve(filled(route, value))
    assert resolve(filled(ID_ROUTES[0], MAX_ROW_ID)).kwargs  # the largest id still resolves


@pytest.mark.parametrize("role", [None, *Role], ids=lambda r: r.value if r else "anonymous")
def test_every_url_answers_404_for_ids_beyond_the_range(role, users):
    client = Client() if role is None else logged_in_client(users[role])
    for route in ID_ROUTES:
        for value in (10**30, 2**63):
            path = filled(route, value)
            for method in ("get", "post"):
                status = getattr(client, method)(path).status_code
                assert status == 404, (route.name, method, value, status)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_the_largest_id_is_not_found_not_a_server_error(role, users):
    """2**63 - 1 reaches the views (and their reads) on both databases: 404 where the role
    may open the page (405 for GET of the POST-only one; opening a booking that does not exist
    is refused with a message, 409), 403 where it may not."""
    matrix = access_matrix()
    client = logged_in_client(users[role])
    for route in ID_ROUTES:
        path = filled(route, MAX_ROW_ID)
        allowed = role in matrix[route.name]
        for method in ("get", "post"):
            status = getattr(client, method)(path).status_code
            expected = {404, 405, 409} if allowed else {403}
            assert status in expected, (route.name, method, status)
