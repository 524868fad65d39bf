"""Start-up probe: refuse to serve clinical data on a database that can lose committed writes."""

from __future__ import annotations

from typing import Any

from django.db import connection as default_connection


def durability_problems(connection: Any = default_connection) -> list[str]:
    """What is wrong with the database's durability settings (empty when all is well)."""
    problems = []
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA journal_mode")
            mode = str(cursor.fetchone()[0]).lower()
            if mode not in ("wal", "memory"):
                problems.append(f"SQLite journal_mode is {mode}, expected wal")
            cursor.execute("PRAGMA synchronous")
            level = int(cursor.fetchone()[0])
            if level < 2:
                problems.append(f"SQLite synchronous is {level}, expected 2 (FULL)")
        elif connection.vendor == "postgresql":
            for setting in ("synchronous_commit", "fsync"):
                cursor.execute(f"SHOW {setting}")
                value = str(cursor.fetchone()[0]).lower()
                if value != "on":
                    problems.append(f"PostgreSQL {setting} is {value}, expected on")
    return problems
