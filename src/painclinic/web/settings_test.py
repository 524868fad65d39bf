"""Settings for the test suite: the normal settings with PAINCLINIC_ENV=test (fast hasher)."""

import os

os.environ["PAINCLINIC_ENV"] = "test"

from painclinic.web.settings import *  # noqa: F403

# PAINCLINIC_TEST_SQLITE_FILE=1: a file-backed SQLite test database instead of Django's
# in-memory one. The in-memory database is shared between threads through SQLite's shared
# cache, whose table locks fail at once ("database table is locked") instead of waiting like
# the production file database does; the tests that race two writers on row locks
# (tests/web/*/test_races.py) therefore run on SQLite only with this set (about 3x slower
# suite, so off by default). PostgreSQL runs them always.
#
# The in-memory database is named outright: pytest-django recognises Django's own SQLite engine
# by its name only, and would otherwise give the clinic's (web/lib/sqlite) a test file per
# xdist worker named after the production database.
if DATABASES["default"]["ENGINE"] == "painclinic.web.lib.sqlite":  # noqa: F405
    if os.environ.get("PAINCLINIC_TEST_SQLITE_FILE") == "1":
        DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-painclinic.sqlite3")}  # noqa: F405
    else:
        DATABASES["default"]["TEST"] = {"NAME": ":memory:"}  # noqa: F405
