"""Tests whose threads need each other's committed rows (real races on row locks).

Such a test runs outside the usual test-wide transaction (``transaction=True``), so its rows
are really committed and each thread's own connection sees them. pytest-django empties the
tables after such a test with a flush (TRUNCATE on PostgreSQL, DELETE on SQLite) that the audit
trail's append-only triggers refuse, by design. ``committed_db`` lifts those triggers in the
test database for that flush only: they are in place while the test runs, dropped at its
teardown, and put back before the next test (and when the module is done).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

TRIGGERS = importlib.import_module("painclinic.web.audit.migrations.0002_append_only_triggers")
CREATE = {"sqlite": TRIGGERS.SQLITE, "postgresql": TRIGGERS.POSTGRES}
DROP = {"sqlite": TRIGGERS.SQLITE_REVERSE, "postgresql": TRIGGERS.POSTGRES_REVERSE}


def races_can_run() -> tuple[bool, str]:
    """Whether this database lets two threads wait on each other's locks."""
    name = str(connection.settings_dict.get("TEST", {}).get("NAME") or ":memory:")
    if connection.vendor == "sqlite" and (name == ":memory:" or "mode=memory" in name):
        return False, (
            "the in-memory SQLite test database shares one cache between threads, whose "
            "table locks fail at once instead of waiting; set PAINCLINIC_TEST_SQLITE_FILE=1 "
            "(file-backed, as in production) or run on PostgreSQL"
        )
    return True, ""


def _execute(statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _assert_test_database() -> None:
    name = str(connection.settings_dict["NAME"])
    if "test" not in name and "memory" not in name:
        raise RuntimeError(f"refusing to lift the audit triggers outside a test database: {name}")


def _put_triggers_back() -> None:
    _assert_test_database()
    _execute(DROP[connection.vendor])  # IF EXISTS: idempotent
    _execute(CREATE[connection.vendor])


@pytest.fixture(scope="module")
def _audit_triggers_restored(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    yield
    with django_db_blocker.unblock():
        _put_triggers_back()


@pytest.fixture
def committed_db(transactional_db: None, _audit_triggers_restored: None) -> Iterator[None]:
    can_run, why = races_can_run()
    _put_triggers_back()
    try:
        if not can_run:
            pytest.skip(why)
        yield
    finally:
        # Whatever happened, lift the triggers for the flush that follows (rows written by
        # fixtures set up before this one included).
        connection.close()
        _assert_test_database()
        _execute(DROP[connection.vendor])


def skip_unless_races_can_run() -> pytest.MarkDecorator:
    """For a module's ``pytestmark``: skip (with the reason) before any fixture writes rows."""
    can_run, why = races_can_run()
    return pytest.mark.skipif(not can_run, reason=why)
