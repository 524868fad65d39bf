"""Shared plumbing of the page benchmarks: one fresh process per database, a scratch database."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_child(module: str, database_url: str | None) -> dict | None:
    """Run ``module._child(database_url, data_dir)`` in a new interpreter (fresh Django
    settings per database) and return the JSON it prints, or None after printing its error."""
    with tempfile.TemporaryDirectory() as data_dir:
        code = (
            f"import json,sys; sys.path.insert(0, {str(HERE)!r}); import {module}; "
            f"print(json.dumps({module}._child({database_url!r}, {data_dir!r})))"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            return None
        return json.loads(proc.stdout.strip().splitlines()[-1])


def fresh_postgres(url: str) -> str | None:
    """Drop and recreate the database named in ``url``; None (with a message) without a server."""
    try:
        import psycopg

        base, name = url.rsplit("/", 1)
        with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return url
    except Exception as error:  # report and carry on with SQLite
        print(f"PostgreSQL not available for the bench: {error}")
        return None
