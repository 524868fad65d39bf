"""Django's SQLite backend, with the process's write transactions served in arrival order.

SQLite has one write lock per database. A writer that finds it taken waits in SQLite's busy
handler, which sleeps and tries again (1 ms, 2 ms, 5 ms ... then every 100 ms) until the busy
timeout: the lock is not handed to the writer that waited longest, and a writer asleep misses the
moments it is free. With forty page views writing at once (every page view appends an audit
event and saves its session), one unlucky writer could wait out the whole timeout while others
came and went, and fail with "database is locked": a 500 from the audit append, a 400 from the
session save (Django's answer when a session cannot be saved).

Here every write transaction this process opens (``transaction.atomic``, which on this database
begins IMMEDIATE) first takes its turn in a queue kept in memory, handed from one transaction
to the next in arrival order when it commits or rolls back; SQLite's own lock is then normally
free at once. Waiting for a turn costs no processor time. The turn is waited for at most the
database's timeout (``OPTIONS["timeout"]``); after that the transaction goes to SQLite's lock as
before and its busy timeout decides. Writers in other processes (a command run beside the
server) still meet at SQLite's lock and its busy timeout.

Durability is unchanged: WAL, ``synchronous=FULL`` and IMMEDIATE transactions, as configured.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any

from django.db.backends.sqlite3 import base

logger = logging.getLogger(__name__)


class WriterQueue:
    """One turn, handed to the waiters in arrival order (no thread can take it out of turn)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        """Wait for the turn at most ``timeout`` seconds; whether it was given."""
        with self._guard:
            if not self._held and not self._waiting:
                self._held = True
                return True
            ticket = threading.Event()
            self._waiting.append(ticket)
        if ticket.wait(timeout):
            return True
        with self._guard:
            if ticket.is_set():  # handed over as the wait ran out
                return True
            self._waiting.remove(ticket)
            return False

    def release(self) -> None:
        """Hand the turn to the longest waiter, or free it."""
        with self._guard:
            if self._waiting:
                self._waiting.popleft().set()
            else:
                self._held = False

    @property
    def waiting(self) -> int:
        with self._guard:
            return len(self._waiting)


_QUEUES: dict[str, WriterQueue] = {}
_QUEUES_GUARD = threading.Lock()


def writer_queue(database_name: str) -> WriterQueue:
    """The process's queue for one database file."""
    with _QUEUES_GUARD:
        return _QUEUES.setdefault(str(database_name), WriterQueue())


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's SQLite backend; each write transaction takes its turn before BEGIN IMMEDIATE.

    (The four methods overridden are Django's own private ones, which its type stubs leave out;
    hence ``_django``, the parent class seen as ``Any``.)
    """

    _has_turn = False

    @property
    def _django(self) -> Any:
        return super()

    def _turn_wait_s(self) -> float:
        return float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5.0))

    def _start_transaction_under_autocommit(self) -> None:
        queue = writer_queue(self.settings_dict["NAME"])
        wait_s = self._turn_wait_s()
        self._has_turn = queue.acquire(wait_s)
        if not self._has_turn:
            logger.warning(
                "a write waited %s s for its turn (%s waiting); trying SQLite's lock directly",
                wait_s,
                queue.waiting,
            )
        try:
            self._django._start_transaction_under_autocommit()
        except BaseException:
            self._end_turn()
            raise

    def _end_turn(self) -> None:
        if self._has_turn:
            self._has_turn = False
            writer_queue(self.settings_dict["NAME"]).release()

    def _commit(self) -> Any:
        result = self._django._commit()
        # A failed commit keeps the turn: Django rolls back (or closes) next, and that ends it.
        self._end_turn()
        return result

    def _rollback(self) -> Any:
        try:
            return self._django._rollback()
        finally:
            self._end_turn()

    def _close(self) -> Any:
        try:
            return self._django._close()
        finally:
            self._end_turn()
