"""How many requests the embedded server runs at once (``PAINCLINIC_SERVE_REQUEST_SLOTS``).

Django's server starts a thread for every connection. Left alone, forty browsers are forty
threads taking turns on one interpreter lock, and a request that holds SQLite's write lock needs
that interpreter lock again after each of its statements while every other thread renders a
page: it keeps the database's lock longer and the writers behind it wait. ``painclinic serve``
lets ``PAINCLINIC_SERVE_REQUEST_SLOTS`` requests (4) run the application at once; the others wait
for a slot, which costs no processor time. Measured with 40 and 80 clients by
bench/bench_load.py (docs/architecture.md, "The embedded server under load").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

DEFAULT_REQUEST_SLOTS = 4


def request_slots() -> int:
    """The configured number of slots; 0 lets every connection's thread run at once."""
    from painclinic.web.lib.env import env_int

    return env_int("PAINCLINIC_SERVE_REQUEST_SLOTS", DEFAULT_REQUEST_SLOTS, minimum=0)


class BoundedApplication:
    """A WSGI application that runs at most ``slots`` requests at once; the rest wait in turn.

    The slot is held while the application builds the response (Django renders it whole), not
    while the server sends it.
    """

    def __init__(self, application: Callable[..., Any], slots: int) -> None:
        self.application = application
        self.slots = slots
        self._slots = threading.BoundedSemaphore(slots)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with self._slots:
            return self.application(environ, start_response)


def bounded(handler: Any, slots: int) -> Any:
    """``handler`` limited to ``slots`` requests at once (``handler`` itself when 0)."""
    return BoundedApplication(handler, slots) if slots else handler


def bounded_handlers(get_handler: Callable[..., Any], slots: int) -> Callable[..., Any]:
    """``runserver``'s ``get_handler``, its handler limited to ``slots`` requests at once."""

    def get_bounded_handler(*args: Any, **options: Any) -> Any:
        return bounded(get_handler(*args, **options), slots)

    return get_bounded_handler
