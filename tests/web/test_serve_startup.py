"""`painclinic serve` as a real process: what it refuses to start on, and what it tells clients.

Production start-up with a missing or weak secret key, an unreachable database or an
unapplied migration stops with one line on standard error and exit status 1, never a
traceback. A running server names neither itself with a version nor its Python.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from painclinic.web.lib.startup import weak_secret_key

CLI = [sys.executable, "-m", "painclinic.cli"]
GOOD_KEY = secrets.token_urlsafe(64)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment without the caller's painclinic settings or database."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PAINCLINIC_") and k != "DATABASE_URL"
    }
    env.update(DJANGO_SETTINGS_MODULE="painclinic.web.settings", PAINCLINIC_DATA_DIR=str(data_dir))
    env.update(settings)
    return env


def production_env(data_dir: Path, **settings: str) -> dict[str, str]:
    values = {
        "PAINCLINIC_ENV": "production",
        "PAINCLINIC_SECRET_KEY": GOOD_KEY,
        "PAINCLINIC_AUDIT_KEY": secrets.token_hex(32),
        "PAINCLINIC_ALLOWED_HOSTS": "127.0.0.1,localhost",
        **settings,
    }
    return clean_env(data_dir, **{k: v for k, v in values.items() if v is not None})


def serve_refused(env: dict[str, str]) -> str:
    """Run `painclinic serve`, which must stop by itself; its one line of standard error."""
    result = subprocess.run(
        [*CLI, "serve", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: refusing to serve: "), lines[0]
    return lines[0]


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [*CLI, "manage", "migrate", "--no-input"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


# --- refusals -------------------------------------------------------------------------------


def test_production_without_a_secret_key_stops_with_one_line(tmp_path):
    line = serve_refused(production_env(tmp_path, PAINCLINIC_SECRET_KEY=None))  # type: ignore[arg-type]
    assert "PAINCLINIC_SECRET_KEY" in line and "required" in line


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("s3cr3t-but-only-thirty-chars!!", "fewer than 50"),
        ("changeme", "placeholder"),
        ("change-me-" + "0123456789abcdef" * 4, "placeholder"),
        ("django-insecure-" + secrets.token_urlsafe(50), "development key"),
        ("ab" * 40, "distinct characters"),
    ],
    ids=["short", "placeholder", "long-placeholder", "django-insecure", "few-characters"],
)
def test_production_with_a_weak_secret_key_stops_with_one_line(tmp_path, key, why):
    line = serve_refused(production_env(tmp_path, PAINCLINIC_SECRET_KEY=key))
    assert "PAINCLINIC_SECRET_KEY is too weak" in line and why in line
    assert key not in line  # the refused key is not echoed into logs


def test_production_with_an_unreachable_database_stops_with_one_line(tmp_path):
    port = _free_port()  # nothing listens there
    env = production_env(
        tmp_path, DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/painclinic_nowhere"
    )
    line = serve_refused(env)
    assert "cannot reach the postgresql database 'painclinic_nowhere'" in line
    assert f"127.0.0.1:{port}" in line


def test_production_with_unapplied_migrations_stops_with_one_line(tmp_path):
    line = serve_refused(production_env(tmp_path))  # a new, empty SQLite file
    assert re.search(r"\d+ database migration\(s\) not applied \(\w+\.\w+", line), line
    assert "painclinic manage migrate" in line


def test_a_malformed_setting_stops_with_one_line(tmp_path):
    line = serve_refused(production_env(tmp_path, PAINCLINIC_SESSION_IDLE_MINUTES="soon"))
    assert "PAINCLINIC_SESSION_IDLE_MINUTES" in line


def test_weak_secret_keys():
    assert weak_secret_key(GOOD_KEY) is None
    assert weak_secret_key("x" * 20 + "production-secret-key-for-the-check-only-0123456789") is None
    for weak in ("", "secret", "your-secret-key-here", "CHANGEME", "a" * 60, "short"):
        assert weak_secret_key(weak), weak


# --- a running server -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("serve-headers")
    env = clean_env(data_dir, PAINCLINIC_ENV="development")
    migrate(env)
    port = _free_port()
    log = open(data_dir / "server.log", "w")  # noqa: SIM115 - closed at teardown
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2)  # noqa: S310 - localhost
            break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        raise RuntimeError((data_dir / "server.log").read_text())
    yield url
    process.terminate()
    process.wait(timeout=20)
    log.close()


VERSION = re.compile(r"python|cpython|wsgiserver|\d+\.\d+", re.IGNORECASE)


def _headers(url: str, method: str = "GET") -> dict[str, str]:
    request = urllib.request.Request(url, method=method)  # noqa: S310 - localhost
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return dict(response.headers)
    except urllib.error.HTTPError as error:
        return dict(error.headers)


def test_no_response_names_the_server_or_python_version(served):
    for path, method in (
        ("/healthz", "GET"),
        ("/accounts/login/", "GET"),
        ("/patients/", "GET"),  # the redirect to the log-in page
        ("/no-such-page/", "GET"),
        ("/healthz", "DELETE"),
        ("/static/painclinic/app.css", "GET"),
    ):
        headers = _headers(served + path, method)
        server = headers.get("Server", "")
        assert not VERSION.search(server), (path, method, server)
        assert not any(VERSION.search(v) for k, v in headers.items() if k.lower() == "x-powered-by")


def _raw_answer(served: str, raw: bytes) -> str:
    host, port = served.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.decode("latin-1")


def test_the_servers_own_error_pages_name_no_version_either(served):
    """Answers http.server gives before the app runs: a request line too long (414), a header
    line too long (431), and a line that is not HTTP at all (an HTTP/0.9 body, no headers)."""
    for raw, status in (
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", "414"),
        (b"GET / HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n", "431"),
        (b"NONSENSE\r\n\r\n", None),
    ):
        answer = _raw_answer(served, raw)
        head, _, body = answer.partition("\r\n\r\n")
        if status is None:
            body = answer
        else:
            assert head.startswith("HTTP/1.1 " + status), head
            server = [v for k, v in _header_lines(head) if k == "server"]
            assert server and not VERSION.search(server[0]), head
        assert not re.search(r"python|wsgiserver", body, re.IGNORECASE), body[:300]


def _header_lines(head: str) -> list[tuple[str, str]]:
    pairs = []
    for line in head.splitlines()[1:]:
        name, _, value = line.partition(":")
        pairs.append((name.strip().lower(), value.strip()))
    return pairs


def test_pages_of_a_real_server_are_not_cached(served):
    headers = _headers(served + "/accounts/login/")
    assert "no-store" in headers["Cache-Control"]
    assert headers["Pragma"] == "no-cache"
