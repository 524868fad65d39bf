"""What must hold before the clinic app serves anyone, each problem said in one line.

``painclinic serve`` stops with one line on standard error and a non-zero exit (never a
traceback) when a check fails:

- the secret key is missing (settings) or weak in production (:func:`weak_secret_key`);
- the database cannot be reached;
- a migration is not applied (the code would read tables or columns that do not exist);
- the database can lose committed writes (``durability.durability_problems``).

Settings import :func:`weak_secret_key`, so this module imports nothing of Django at import
time.
"""

from __future__ import annotations

from typing import Any

MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_DISTINCT_CHARACTERS = 5

# Values people paste from examples and templates (compared lower-cased, with "-" and "_"
# removed); also refused when a longer key starts with one of them.
KNOWN_PLACEHOLDERS = frozenset(
    {
        "changeme",
        "changemeplease",
        "changethis",
        "replaceme",
        "replacethis",
        "secret",
        "secretkey",
        "yoursecretkey",
        "yoursecretkeyhere",
        "mysecretkey",
        "placeholder",
        "insecure",
        "djangoinsecure",
        "notasecret",
        "development",
        "test",
        "password",
    }
)


def weak_secret_key(key: str) -> str | None:
    """Why ``key`` is too weak to sign a production clinic's sessions (None when it is not).

    Weak: shorter than 50 characters, fewer than 5 distinct characters (Django's own
    deployment check uses both), Django's ``django-insecure-`` development prefix, or a known
    placeholder (``changeme``, ``your-secret-key`` ... alone or as the start of the key).
    """
    normalised = key.strip().lower().replace("-", "").replace("_", "")
    if key.strip().lower().startswith("django-insecure"):
        return "it is a Django development key (django-insecure-...)"
    for placeholder in KNOWN_PLACEHOLDERS:
        if normalised == placeholder or (
            len(placeholder) >= 6 and normalised.startswith(placeholder)
        ):
            return "it is a placeholder from an example, not a generated secret"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"it has {len(key)} characters, fewer than {MIN_SECRET_KEY_LENGTH}"
    if len(set(key)) < MIN_SECRET_KEY_DISTINCT_CHARACTERS:
        return (
            f"it has {len(set(key))} distinct characters, fewer than "
            f"{MIN_SECRET_KEY_DISTINCT_CHARACTERS}"
        )
    return None


def secret_key_hint() -> str:
    """How to make a good key (part of the one-line refusal)."""
    return (
        "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(64))' "
        "and point PAINCLINIC_SECRET_KEY_FILE at a file holding it"
    )


def _database_name(connection: Any) -> str:
    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"SQLite database {params.get('NAME')}"
    host = params.get("HOST") or "localhost"
    port = params.get("PORT") or ""
    where = f"{host}:{port}" if port else host
    return f"{connection.vendor} database {params.get('NAME')!r} at {where}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0].strip() if text else type(error).__name__


def database_problem(connection: Any = None) -> str | None:
    """Why the database cannot be used (unreachable, refused log-in ...), or None."""
    from django.db import DatabaseError
    from django.db import connection as default_connection

    connection = connection or default_connection
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except (DatabaseError, OSError) as error:
        return f"cannot reach the {_database_name(connection)}: {_first_line(error)}"
    return None


def unapplied_migrations(connection: Any = None) -> list[str]:
    """``app.migration`` names the code needs and the database has not applied."""
    from django.db import connection as default_connection
    from django.db.migrations.executor import MigrationExecutor

    connection = connection or default_connection
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def startup_problems(connection: Any = None) -> list[str]:
    """Everything that stops the server, in the order it is checked (empty when all is well).

    A later check needs the earlier ones (no migrations without a database), so the list
    stops at the first problem of the database or its schema.
    """
    from django.db import connection as default_connection

    from painclinic.web.lib.durability import durability_problems

    connection = connection or default_connection
    problem = database_problem(connection)
    if problem:
        return [problem]
    pending = unapplied_migrations(connection)
    if pending:
        more = f" and {len(pending) - 1} more" if len(pending) > 1 else ""
        return [
            f"{len(pending)} database migration(s) not applied ({pending[0]}{more}); run "
            "'painclinic manage migrate' first"
        ]
    return durability_problems(connection)


def startup_refusal() -> str | None:
    """Set Django up and run every start-up check; the one line that refuses, or None.

    One entry for every way the app is served: ``painclinic serve``, gunicorn's start-up hook
    (``web/gunicorn_conf.py``) and the WSGI module itself (``web/wsgi.py``), so a production
    start with a missing or weak secret key, a malformed setting, an unreachable database, an
    unapplied migration or non-durable storage stops with the same sentence whichever way the
    clinic starts it. The database connection the checks opened is closed again, so a server
    that forks workers afterwards does not share it. Once the checks pass they are not run
    again in the same process (or its forked workers): ``painclinic serve`` and gunicorn's hook
    check first, then load ``web/wsgi.py``, which asks again.
    """
    global _passed
    if _passed:
        return None
    import os

    from painclinic.web.lib.env import SettingError

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "painclinic.web.settings")
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except (SettingError, ImproperlyConfigured, OSError) as error:
        return f"refusing to serve: {' '.join(str(error).split())}"
    from django.db import connections

    try:
        problems = startup_problems()
    finally:
        connections.close_all()
    if problems:
        return f"refusing to serve: {'; '.join(problems)}"
    _passed = True
    return None


# Set when this process has passed the start-up checks (see startup_refusal).
_passed = False
