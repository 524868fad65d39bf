"""Shared plumbing of the page benchmarks: one fresh process per database, a scratch database."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def time_pages(
    client: Any, pages: dict[str, Callable[[int], str]], requests: int, warmup: int = 20
) -> dict[str, dict[str, float]]:
    """p50 and p95 (ms) of ``requests`` GETs of each page, the pages taken in turn.

    Interleaving puts the floor and every page under the same machine conditions: measured one
    page after another, a slow minute on a shared host would land on whichever page ran then
    and skew its ratio to the floor.
    """
    for i in range(warmup):
        for url_for in pages.values():
            client.get(url_for(i))
    timings: dict[str, list[float]] = {name: [] for name in pages}
    for i in range(requests):
        for name, url_for in pages.items():
            url = url_for(i)
            started = time.perf_counter()
            response = client.get(url)
            timings[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
    results = {}
    for name, values in timings.items():
        values.sort()
        results[name] = {
            "p50_ms": statistics.median(values),
            "p95_ms": values[int(0.95 * len(values)) - 1],
        }
    return results
