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


# Three ways to start the app in production, each must refuse the same way: the embedded
# server, gunicorn with the clinic's settings module (the README's command) and gunicorn
# given only the WSGI module.
LAUNCHERS = ("serve", "gunicorn", "gunicorn-wsgi-only")


def _command(launcher: str, port: int) -> list[str]:
    if launcher == "serve":
        return [*CLI, "serve", "--port", str(port)]
    gunicorn = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    gunicorn += ["--no-control-socket", "--workers", "1"]
    if launcher == "gunicorn":
        return [*gunicorn, "-c", "python:painclinic.web.gunicorn_conf"]
    return [*gunicorn, "painclinic.web.wsgi"]


@pytest.fixture(params=LAUNCHERS)
def launcher(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def serve_refused(env: dict[str, str], launcher: str = "serve") -> str:
    """Start the app, which must stop by itself; its one line of refusal.

    `painclinic serve` and gunicorn with the clinic's settings module write that one line and
    nothing else of their own (gunicorn logs its own start first); gunicorn given only the
    WSGI module stops with gunicorn's "App failed to load" (status 4) after the same line,
    instead of booting a failing worker forever.
    """
    result = subprocess.run(
        _command(launcher, _free_port()),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=env["PAINCLINIC_DATA_DIR"],  # no stray ./gunicorn.conf.py is read
    )
    assert "Traceback" not in result.stderr, result.stderr
    refusals = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(refusals) == 1, result.stderr
    assert refusals[0].startswith("error: refusing to serve: "), refusals[0]
    if launcher == "gunicorn-wsgi-only":
        assert result.returncode == 4, (result.returncode, result.stderr)
        assert "App failed to load" in result.stderr, result.stderr
    else:
        assert result.returncode == 1, (result.returncode, result.stderr)
        others = [
            line
            for line in result.stderr.splitlines()
            if line.strip() and line != refusals[0] and "[INFO] Starting gunicorn" not in line
        ]
        assert others == [], result.stderr
    return refusals[0]


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [*CLI, "manage", "migrate", "--no-input"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


# --- refusals -------------------------------------------------------------------------------


def test_production_without_a_secret_key_stops_with_one_line(tmp_path, launcher):
    line = serve_refused(
        production_env(tmp_path, PAINCLINIC_SECRET_KEY=None),  # type: ignore[arg-type]
        launcher,
    )
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
def test_production_with_a_weak_secret_key_stops_with_one_line(tmp_path, key, why, launcher):
    line = serve_refused(production_env(tmp_path, PAINCLINIC_SECRET_KEY=key), launcher)
    assert "PAINCLINIC_SECRET_KEY is too weak" in line and why in line
    assert key not in line  # the refused key is not echoed into logs


def test_production_with_an_unreachable_database_stops_with_one_line(tmp_path, launcher):
    port = _free_port()  # nothing listens there
    env = production_env(
        tmp_path, DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/painclinic_nowhere"
    )
    line = serve_refused(env, launcher)
    assert "cannot reach the postgresql database 'painclinic_nowhere'" in line
    assert f"127.0.0.1:{port}" in line


def test_production_with_unapplied_migrations_stops_with_one_line(tmp_path, launcher):
    line = serve_refused(production_env(tmp_path), launcher)  # a new, empty SQLite file
    assert re.search(r"\d+ database migration\(s\) not applied \(\w+\.\w+", line), line
    assert "painclinic manage migrate" in line


def test_a_malformed_setting_stops_with_one_line(tmp_path, launcher):
    line = serve_refused(production_env(tmp_path, PAINCLINIC_SESSION_IDLE_MINUTES="soon"), launcher)
    assert "PAINCLINIC_SESSION_IDLE_MINUTES" in line


@pytest.fixture(scope="module")
def non_durable_postgresql(tmp_path_factory) -> Iterator[str]:
    """A migrated PostgreSQL database whose commits return before they reach the disk."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("needs PostgreSQL (scripts/run-postgres-suite.sh sets DATABASE_URL)")
    import psycopg

    server, _, _name = url.rpartition("/")
    name = f"painclinic_nondurable_{secrets.token_hex(4)}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
        admin.execute(f"ALTER DATABASE {name} SET synchronous_commit = off")
    try:
        migrate(clean_env(tmp_path_factory.mktemp("nondurable"), DATABASE_URL=f"{server}/{name}"))
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_production_on_storage_that_can_lose_commits_stops_with_one_line(
    tmp_path, launcher, non_durable_postgresql
):
    line = serve_refused(production_env(tmp_path, DATABASE_URL=non_durable_postgresql), launcher)
    assert "PostgreSQL synchronous_commit is off, expected on" in line


def test_weak_secret_keys():
    assert weak_secret_key(GOOD_KEY) is None
    assert weak_secret_key("x" * 20 + "production-secret-key-for-the-check-only-0123456789") is None
    for weak in ("", "secret", "your-secret-key-here", "CHANGEME", "a" * 60, "short"):
        assert weak_secret_key(weak), weak


# --- a running server -----------------------------------------------------------------------


@pytest.fixture(scope="module", params=("serve", "gunicorn"))
def served(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("serve-headers")
    env = clean_env(data_dir, PAINCLINIC_ENV="development")
    migrate(env)
    port = _free_port()
    log = open(data_dir / "server.log", "w")  # noqa: SIM115 - closed at teardown
    process = subprocess.Popen(
        _command(request.param, port),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=data_dir,
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
            assert not any(VERSION.search(value) for value in server), head
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
