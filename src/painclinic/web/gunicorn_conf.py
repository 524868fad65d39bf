"""gunicorn settings for the clinic app: ``gunicorn -c python:painclinic.web.gunicorn_conf``.

The master runs the same start-up checks as ``painclinic serve`` before it binds a port or
forks a worker (``on_starting``): a missing or weak secret key, a malformed setting, an
unreachable database, an unapplied migration or storage that can lose committed writes stops
gunicorn with one line on standard error and exit status 1, never a traceback or a loop of
workers failing to boot. Every other gunicorn option (``--workers``, ``--bind``) is given on
the command line as usual.
"""

from __future__ import annotations

import sys
from typing import Any

wsgi_app = "painclinic.web.wsgi:application"


def on_starting(server: Any) -> None:
    """Refuse to start, with one line, when a start-up check fails."""
    from painclinic.web.lib.startup import startup_refusal

    refusal = startup_refusal()
    if refusal:
        print(f"error: {refusal}", file=sys.stderr, flush=True)
        sys.exit(1)
