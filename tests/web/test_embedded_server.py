"""The embedded server under load: writers served in arrival order, a bounded number of requests.

Two mechanisms keep 40 concurrent clients of ``painclinic serve`` on SQLite free of "database is
locked" (measured by bench/bench_load.py; docs/architecture.md, "The embedded server under
load"):

- the SQLite backend's writer queue (``painclinic.web.lib.sqlite``): each write transaction of
  the process waits for its turn, handed over in arrival order, instead of polling SQLite's
  lock in its busy handler (where one writer could wait out the whole timeout while later ones
  got through);
- the request slots of ``painclinic serve`` (``PAINCLINIC_SERVE_REQUEST_SLOTS``, 4): at most
  that many requests run the application at once; the others wait for a slot.

The waits themselves, with a real page view and a real held write, are in test_write_turns.py.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from painclinic.cli._slots import DEFAULT_REQUEST_SLOTS, BoundedApplication, bounded
from painclinic.web.lib.sqlite.base import WriterQueue

WAIT_S = 10  # generous: only a broken queue waits this long


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.005)


# --- the writer queue ------------------------------------------------------------------------


def test_writers_get_their_turn_in_the_order_they_asked_for_it():
    queue = WriterQueue()
    assert queue.acquire(timeout=0)
    served: list[str] = []
    threads = []
    for number, name in enumerate(["first", "second", "third"], start=1):

        def write(name: str = name) -> None:
            assert queue.acquire(timeout=WAIT_S)
            served.append(name)
            queue.release()

        thread = threading.Thread(target=write)
        thread.start()
        threads.append(thread)
        wait_until(lambda number=number: queue.waiting == number, f"{name} waits")

    queue.release()
    for thread in threads:
        thread.join(timeout=WAIT_S)

    assert served == ["first", "second", "third"]
    assert queue.acquire(timeout=0)  # free again once the last one is done


def test_a_released_turn_goes_to_the_writer_waiting_not_to_a_newcomer():
    queue = WriterQueue()
    assert queue.acquire(timeout=0)
    handed = threading.Event()

    def waiting_writer() -> None:
        assert queue.acquire(timeout=WAIT_S)
        handed.set()

    thread = threading.Thread(target=waiting_writer)
    thread.start()
    wait_until(lambda: queue.waiting == 1, "the writer waits")

    queue.release()
    assert not queue.acquire(timeout=0)  # the turn was handed over: no barging in

    assert handed.wait(WAIT_S)
    thread.join(timeout=WAIT_S)
    queue.release()
    assert queue.acquire(timeout=0)


def test_a_writer_that_waited_out_its_time_leaves_the_queue():
    queue = WriterQueue()
    assert queue.acquire(timeout=0)

    assert not queue.acquire(timeout=0.05)

    assert queue.waiting == 0
    queue.release()  # nobody left to hand it to: the turn is free
    assert queue.acquire(timeout=0)


# --- the request slots -----------------------------------------------------------------------


def test_at_most_the_slots_run_the_application_at_once_and_every_request_is_answered():
    lock = threading.Lock()
    inside = 0
    most = 0
    proceed = threading.Event()

    def application(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        proceed.wait(WAIT_S)
        with lock:
            inside -= 1
        start_response("200 OK", [])
        return [environ["PATH_INFO"].encode()]

    app = BoundedApplication(application, 2)
    answers: list[bytes] = []

    def request(number: int) -> None:
        answers.extend(app({"PATH_INFO": f"/{number}"}, lambda *args: None))

    threads = [threading.Thread(target=request, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    wait_until(lambda: inside == 2, "two requests run")
    time.sleep(0.2)  # the other four have had time to come in: they wait for a slot
    assert inside == 2

    proceed.set()
    for thread in threads:
        thread.join(timeout=WAIT_S)

    assert most == 2
    assert sorted(answers) == [f"/{n}".encode() for n in range(6)]


def test_no_slots_leaves_the_application_as_it_is():
    def application(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        return []

    assert bounded(application, 0) is application
    assert isinstance(bounded(application, 3), BoundedApplication)


def test_serve_runs_the_application_in_the_configured_slots(monkeypatch):
    from django.core import management

    from painclinic.cli.serve import serve
    from painclinic.web.lib import startup

    started: list[Any] = []
    monkeypatch.setattr(startup, "startup_problems", lambda: [])
    monkeypatch.setattr(management, "call_command", lambda command, *args: started.append(command))

    monkeypatch.delenv("PAINCLINIC_SERVE_REQUEST_SLOTS", raising=False)
    serve(host="127.0.0.1", port=8000)
    monkeypatch.setenv("PAINCLINIC_SERVE_REQUEST_SLOTS", "7")
    serve(host="127.0.0.1", port=8000)
    monkeypatch.setenv("PAINCLINIC_SERVE_REQUEST_SLOTS", "0")
    serve(host="127.0.0.1", port=8000)

    options = {"use_static_handler": True, "insecure_serving": False}  # runserver's defaults
    handlers = [command.get_handler(**options) for command in started]
    assert [getattr(handler, "slots", None) for handler in handlers] == [
        DEFAULT_REQUEST_SLOTS,
        7,
        None,
    ]


@pytest.mark.parametrize("value", ["-1", "four"])
def test_serve_refuses_a_malformed_number_of_slots(monkeypatch, capsys, value):
    import typer

    from painclinic.cli.serve import serve
    from painclinic.web.lib import startup

    monkeypatch.setattr(startup, "startup_problems", lambda: [])
    monkeypatch.setenv("PAINCLINIC_SERVE_REQUEST_SLOTS", value)

    with pytest.raises(typer.Exit):
        serve(host="127.0.0.1", port=8000)

    assert "PAINCLINIC_SERVE_REQUEST_SLOTS" in capsys.readouterr().err
