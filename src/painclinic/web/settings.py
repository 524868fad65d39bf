"""Django settings for painclinic, read from the environment.

Every variable is listed in the README's configuration table.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.csp import CSP

from painclinic.web.audit.keys import build_keyring
from painclinic.web.lib.env import (
    SettingError,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_optional,
    env_str,
)
from painclinic.web.lib.startup import secret_key_hint, weak_secret_key

BASE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BASE_DIR.parents[2]

PAINCLINIC_ENV = env_choice("PAINCLINIC_ENV", "development", {"development", "production", "test"})
PRODUCTION = PAINCLINIC_ENV == "production"
DEBUG = env_bool("PAINCLINIC_DEBUG", PAINCLINIC_ENV == "development")
DATA_DIR = Path(env_str("PAINCLINIC_DATA_DIR", str(PROJECT_ROOT / "var")))


def _secret_key() -> str:
    configured = env_optional("PAINCLINIC_SECRET_KEY")
    if configured:
        weakness = weak_secret_key(configured) if PRODUCTION else None
        if weakness:
            raise SettingError(
                f"PAINCLINIC_SECRET_KEY is too weak for production: {weakness}; {secret_key_hint()}"
            )
        return configured
    if PRODUCTION:
        raise SettingError(
            "PAINCLINIC_SECRET_KEY (or PAINCLINIC_SECRET_KEY_FILE) is required in production; "
            f"{secret_key_hint()}"
        )
    # Development and tests: a random key kept beside the SQLite database, so sessions
    # survive restarts.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        key_file.chmod(0o600)
    return key_file.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()

# The audit trail's keys, kept outside the database (docs/audit-trail.md): the current key
# and its id, and the keyring of older keys by id. Without either, a development key is
# generated into the data directory on first use; production refuses to start.
AUDIT_KEY = env_optional("PAINCLINIC_AUDIT_KEY")
AUDIT_KEY_ID = env_optional("PAINCLINIC_AUDIT_KEY_ID")
AUDIT_KEYS = env_optional("PAINCLINIC_AUDIT_KEYS")
AUDIT_DEV_KEYS_FILE = None if PRODUCTION else DATA_DIR / "audit-keys"
if PRODUCTION or AUDIT_KEY or AUDIT_KEYS:
    build_keyring(AUDIT_KEY, AUDIT_KEY_ID, AUDIT_KEYS, None)  # missing or malformed: stop here
# Signed checkpoints of the chain's head, appended outside the database every N events.
AUDIT_CHECKPOINT_FILE = Path(
    env_str("PAINCLINIC_AUDIT_CHECKPOINT_FILE", str(DATA_DIR / "audit-checkpoints.log"))
)
AUDIT_CHECKPOINT_EVERY = env_int("PAINCLINIC_AUDIT_CHECKPOINT_EVERY", 100, minimum=1)
ALLOWED_HOSTS = env_list(
    "PAINCLINIC_ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("PAINCLINIC_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django_htmx",
    "painclinic.web.accounts",
    "painclinic.web.audit",
    "painclinic.web.patients",
    "painclinic.web.assessments",
    "painclinic.web.treatments",
    "painclinic.web.scheduling",
    "painclinic.web.infusions",
    "painclinic.web.drugregister",
    "painclinic.web.followup",
    "painclinic.web.outcomes",
    "painclinic.web.worklist",
    "painclinic.web.billing",
    "painclinic.web.referrals",
    "painclinic.web.public",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise (static files keep their cache), above everything that answers.
    "painclinic.web.lib.middleware.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The reader's language: the switch's cookie, else the browser's Accept-Language, else English.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "painclinic.web.accounts.middleware.SessionTimeoutMiddleware",
    "painclinic.web.accounts.middleware.TwoFactorMiddleware",
    "painclinic.web.accounts.middleware.PasswordMustChangeMiddleware",
    "painclinic.web.accounts.middleware.RoleGateMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "painclinic.web.urls"
WSGI_APPLICATION = "painclinic.web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "painclinic.web.accounts.context.role_context",
                "painclinic.web.worklist.context.worklist_nav",
            ],
        },
    }
]

DATABASE_URL = env_optional("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    # Server-side binding with a prepare threshold: psycopg prepares a statement after five
    # runs on a connection, so PostgreSQL plans the chart's seven-table read once per
    # connection rather than on every view (planning was 2 ms, execution 0.1 ms). Turn off
    # behind a transaction-pooling PgBouncer without prepared-statement support.
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
        "PAINCLINIC_PG_PREPARED_STATEMENTS", True
    ):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=5
        )
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            # Django's SQLite backend whose write transactions take their turn in arrival order
            # (web/lib/sqlite/base.py), so no writer is starved past the timeout under load.
            "ENGINE": "painclinic.web.lib.sqlite",
            "NAME": str(DATA_DIR / "painclinic.sqlite3"),
            "OPTIONS": {
                # WAL for concurrent readers; FULL so a reported commit survives power loss;
                # IMMEDIATE so writers queue instead of failing with "database is locked".
                "init_command": (
                    "PRAGMA journal_mode=WAL;PRAGMA synchronous=FULL;PRAGMA foreign_keys=ON;"
                ),
                "transaction_mode": "IMMEDIATE",
                # Seconds a write waits for its turn, and then for SQLite's lock (the busy
                # timeout, in force from the moment the connection opens).
                "timeout": env_int("PAINCLINIC_SQLITE_WRITE_WAIT_SECONDS", 10, minimum=1),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Sessions: idle and absolute limits are enforced by SessionTimeoutMiddleware.
SESSION_IDLE_MINUTES = env_int("PAINCLINIC_SESSION_IDLE_MINUTES", 15, minimum=1)
SESSION_ABSOLUTE_HOURS = env_int("PAINCLINIC_SESSION_ABSOLUTE_HOURS", 12, minimum=1)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# Two-factor: roles listed here must pass TOTP; others may enrol voluntarily.
MFA_REQUIRED_ROLES = env_list("PAINCLINIC_MFA_REQUIRED_ROLES", ["clinicadmin"])
OTP_TOTP_ISSUER = env_str("PAINCLINIC_OTP_ISSUER", "painclinic")

# Login throttling (django-axes): lock the username after repeated failures.
AXES_FAILURE_LIMIT = env_int("PAINCLINIC_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("PAINCLINIC_LOGIN_COOLOFF_MINUTES", 30, minimum=1))
# Lock the username from the address it was attacked from (a username-only lockout would let
# anyone lock every clinician out; axes warns about it).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False

LANGUAGE_CODE = "en-ca"
# Dates typed YYYY-MM-DD and times HH:MM (24 h) in every language (painclinic/web/formats).
FORMAT_MODULE_PATH = ["painclinic.web.formats"]
USE_I18N = True
# English and French (issue #14 item 8). Canadian variants, so dates and numbers follow the
# Canadian conventions of each language (Django's en_CA and fr_CA formats; ISO short dates);
# a cookie or browser asking for plain "fr" or "en" gets these.
LANGUAGES = [("en-ca", "English"), ("fr-ca", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The switch remembers the choice for a year (the cookie holds only the language code).
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = PRODUCTION
USE_TZ = True
# Storage is always UTC (USE_TZ); this is the clinic's zone for display and calendar arithmetic.
TIME_ZONE = env_str("PAINCLINIC_TIME_ZONE", "America/Toronto")

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Security headers on every response.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("PAINCLINIC_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("PAINCLINIC_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Background work (follow-up planning and reminders): Django's tasks on a database-backed queue
# that works on SQLite and PostgreSQL alike; `painclinic worker` runs it.
TASKS = {
    "default": {
        "BACKEND": env_str("PAINCLINIC_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}
# How often the worker plans follow-up and queues reminders.
WORKER_TICK_SECONDS = env_int("PAINCLINIC_WORKER_TICK_SECONDS", 60, minimum=5)
# The address patients open from a reminder (the clinic's public address of this app).
PUBLIC_BASE_URL = env_str("PAINCLINIC_PUBLIC_BASE_URL", "http://127.0.0.1:8000")
# A reminder's single-use questionnaire link works this long (never after its window closes).
FOLLOWUP_LINK_HOURS = env_int("PAINCLINIC_FOLLOWUP_LINK_HOURS", 72, minimum=1)
# Reminders claimed, sent and recorded together by the worker (at most 200): a worker stopped
# in the middle of a batch leaves at most this many reminders unconfirmed (never sent twice).
FOLLOWUP_REMINDER_BATCH = env_int("PAINCLINIC_FOLLOWUP_REMINDER_BATCH", 200, minimum=1)
# What a patient brings on an infusion day (shown on the portal; the clinic's own words).
INFUSION_WHAT_TO_BRING = env_str(
    "PAINCLINIC_INFUSION_WHAT_TO_BRING",
    "Your health card, a list of the medicines you take, something to read or listen to, "
    "and a warm layer (the room can feel cool during the infusion).",
)
# The public patient pages' text: a folder holding the clinic's own public_info.json (blank:
# the demo's sourced text in web/public/data). Read once per process; restart to publish.
PUBLIC_INFO_DIR = env_str("PAINCLINIC_PUBLIC_INFO_DIR", "")

# Billing: the clinic as it appears on invoices, receipts and statements.
CLINIC_NAME = env_str("PAINCLINIC_CLINIC_NAME", "Lakeshore Pain Clinic (demo)")
CLINIC_ADDRESS = env_str(
    "PAINCLINIC_CLINIC_ADDRESS", "100 Example Street, Suite 200, Toronto ON M5V 0A1"
)
CLINIC_PHONE = env_str("PAINCLINIC_CLINIC_PHONE", "416-555-0100")
CLINIC_EMAIL = env_str("PAINCLINIC_CLINIC_EMAIL", "billing@clinic.example")
# The clinic's GST/HST registration number (printed when an invoice charges HST).
CLINIC_HST_NUMBER = env_str("PAINCLINIC_CLINIC_HST_NUMBER", "")
# Days from an invoice's issue to its due date (overdue after it).
INVOICE_DUE_DAYS = env_int("PAINCLINIC_INVOICE_DUE_DAYS", 30, minimum=0)

# Online referrals (web/referrals): the letter's size limit, the public forms' rate limits per
# address and form (submissions, and every POST including refused ones), and the call-back
# promise the forms make.
REFERRAL_MAX_MB = env_int("PAINCLINIC_REFERRAL_MAX_MB", 10, minimum=1)
REFERRAL_RATE_PER_HOUR = env_int("PAINCLINIC_REFERRAL_RATE_PER_HOUR", 5, minimum=1)
REFERRAL_TRIES_PER_HOUR = env_int("PAINCLINIC_REFERRAL_TRIES_PER_HOUR", 30, minimum=1)
REFERRAL_CALL_BACK_BUSINESS_DAYS = env_int("PAINCLINIC_REFERRAL_CALL_BACK_DAYS", 3, minimum=1)
# An upload is read no further than the referral letter's limit (the only upload of the site).
FILE_UPLOAD_HANDLERS = [
    "painclinic.web.referrals.uploads.UploadSizeLimit",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Overdue-invoice reminders (``painclinic worker``): one when an invoice billed to the patient
# with a balance is overdue by at least each listed number of days (0: on its due date), at
# most one per step, none once it is paid or credited. Increasing whole days, comma-separated.
INVOICE_REMINDERS_ENABLED = env_bool("PAINCLINIC_INVOICE_REMINDERS_ENABLED", True)
_reminder_days = env_list("PAINCLINIC_INVOICE_REMINDER_DAYS", ["0", "14", "30"])
if not all(day.isdigit() for day in _reminder_days) or [int(d) for d in _reminder_days] != sorted(
    {int(d) for d in _reminder_days}
):
    raise SettingError(
        "PAINCLINIC_INVOICE_REMINDER_DAYS must be increasing whole days, such as 0,14,30, "
        f"not {','.join(_reminder_days)!r}"
    )
INVOICE_REMINDER_DAYS = tuple(int(day) for day in _reminder_days)

# E-mail (Django 6.1 mailers): the console in development; SMTP from the environment in a
# clinic (PAINCLINIC_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend).
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_BACKEND_PATH = env_str(
    "PAINCLINIC_EMAIL_BACKEND",
    SMTP_BACKEND if PRODUCTION else "django.core.mail.backends.console.EmailBackend",
)
MAILERS = {
    "default": {
        "BACKEND": EMAIL_BACKEND_PATH,
        "OPTIONS": (
            {
                "host": env_str("PAINCLINIC_SMTP_HOST", "localhost"),
                "port": env_int("PAINCLINIC_SMTP_PORT", 587, minimum=1),
                "username": env_str("PAINCLINIC_SMTP_USER", ""),
                "password": env_str("PAINCLINIC_SMTP_PASSWORD", ""),
                "use_tls": env_bool("PAINCLINIC_SMTP_STARTTLS", True),
                # A mail server that does not answer is a transient failure, retried later.
                "timeout": env_int("PAINCLINIC_SMTP_TIMEOUT_SECONDS", 20, minimum=1),
            }
            if EMAIL_BACKEND_PATH == SMTP_BACKEND
            else {}
        ),
    }
}
DEFAULT_FROM_EMAIL = env_str("PAINCLINIC_FROM_EMAIL", "painclinic@localhost")

# Clinical data-entry policy.
WEIGHT_CHANGE_CONFIRM_PERCENT = env_int("PAINCLINIC_WEIGHT_CHANGE_CONFIRM_PERCENT", 10, minimum=1)
# A plan's doses need a weight measured at most this many clinic days ago.
PLAN_WEIGHT_MAX_AGE_DAYS = env_int("PAINCLINIC_PLAN_WEIGHT_MAX_AGE_DAYS", 30, minimum=1)
# Does the clinic admit patients? Inpatient-only protocols (a multi-day continuous infusion)
# are offered only when it does, and their sessions are held to the inpatient 24-hour limits.
INPATIENT_SERVICE = env_bool("PAINCLINIC_INPATIENT_SERVICE", False)

# Infusion-day policy (clinic decisions, not published limits).
INFUSION_FASTING_HOURS = (
    env_int("PAINCLINIC_FASTING_SOLIDS_HOURS", 6, minimum=0),
    env_int("PAINCLINIC_FASTING_CLEAR_FLUIDS_HOURS", 2, minimum=0),
)
INFUSION_PREGNANCY_TEST_AGES = (
    env_int("PAINCLINIC_PREGNANCY_TEST_MIN_AGE", 12, minimum=0),
    env_int("PAINCLINIC_PREGNANCY_TEST_MAX_AGE", 55, minimum=0),
)
INFUSION_WEIGHT_CHANGE_PERCENT = env_int("PAINCLINIC_INFUSION_WEIGHT_CHANGE_PERCENT", 10, minimum=1)
INFUSION_OBSERVATION_GRACE_MIN = env_int("PAINCLINIC_OBSERVATION_GRACE_MINUTES", 5, minimum=0)
INFUSION_OBSERVATION_EARLY_MIN = env_int("PAINCLINIC_OBSERVATION_EARLY_MINUTES", 5, minimum=0)
INFUSION_SERIOUS_EVENT_REPORT_HOURS = env_int(
    "PAINCLINIC_SERIOUS_EVENT_REPORT_HOURS", 24, minimum=1
)
INFUSION_FUTURE_TOLERANCE_S = env_int("PAINCLINIC_FUTURE_TOLERANCE_SECONDS", 60, minimum=0)
INFUSION_START_EARLY_MARGIN_MIN = env_int("PAINCLINIC_START_EARLY_MINUTES", 30, minimum=0)
INFUSION_LATE_ENTRY_MIN = env_int("PAINCLINIC_LATE_ENTRY_MINUTES", 10, minimum=1)

if PAINCLINIC_ENV == "test":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("PAINCLINIC_LOG_LEVEL", "WARNING")},
}
TRUST_X_FORWARDED_FOR = env_bool("PAINCLINIC_TRUST_X_FORWARDED_FOR", False)
