"""Settings, driven by environment variables so the same code runs embedded (SQLite) or scaled out.

FLOWDESK_DATABASE_URL  database URL (default: SQLite file under FLOWDESK_DATA_DIR)
FLOWDESK_DATA_DIR      where the embedded database lives (default: the checkout's var/ when
                       flowdesk runs from a source checkout, else a per-user data directory)
FLOWDESK_SECRET_KEY    secret key (a development key is used when unset and DEBUG is on)
FLOWDESK_DEBUG         "1" to enable debug pages
FLOWDESK_ALLOWED_HOSTS comma-separated host names
FLOWDESK_EMAIL_URL     not yet: e-mail goes through Django's EMAIL_BACKEND (console by default)
FLOWDESK_API_MAX_BYTES, FLOWDESK_RULES_MAX_BYTES, FLOWDESK_MESSAGE_MAX_CHARS  request limits
FLOWDESK_DRY_RUN_PER_MINUTE  dry runs per user per minute (0: unlimited)
FLOWDESK_LOGIN_FAILURES      failed sign-ins per address and e-mail per 15 minutes (0: unlimited)
FLOWDESK_SECURE_COOKIES      "1" behind HTTPS: session and CSRF cookies only over HTTPS
FLOWDESK_MEDIA_ROOT          where uploaded files (portal attachments) are stored
FLOWDESK_PORTAL_*            the customer portal (docs/portal.md, "Settings")

Importing settings creates nothing on disk: the commands that create the database (`flowdesk
migrate`, `serve`, `demo`) create its directory; see flowdesk.cli.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def _data_dir() -> Path:
    """FLOWDESK_DATA_DIR; else the var/ of the source checkout flowdesk is installed from (the src
    layout: <root>/src/flowdesk); else the per-user data directory. Never the working directory,
    so every command finds the same database wherever it is run from."""
    configured = os.environ.get("FLOWDESK_DATA_DIR")
    if configured:
        return Path(configured).expanduser().absolute()
    root = BASE_DIR.parent.parent
    if BASE_DIR.parent.name == "src" and (root / "pyproject.toml").is_file():
        return root / "var"
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
    else:
        base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "flowdesk"


DATA_DIR = _data_dir()

DEBUG = os.environ.get("FLOWDESK_DEBUG", "0") == "1"
SECRET_KEY = os.environ.get("FLOWDESK_SECRET_KEY", "")
if not SECRET_KEY:
    # Only the embedded/demo setup may run without a configured key; production must set one.
    SECRET_KEY = "flowdesk-insecure-development-key-set-FLOWDESK_SECRET_KEY-in-production"
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("FLOWDESK_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",  # its templates and static files: /api/docs works offline
    "django_tasks",
    "django_tasks_db",
    "flowdesk.core",
    "flowdesk.accounts",
    "flowdesk.tickets",
    "flowdesk.automation",
    "flowdesk.outbox",
    "flowdesk.sla",
    "flowdesk.timers",
    "flowdesk.routing",
    "flowdesk.macros",
    "flowdesk.knowledge",
    "flowdesk.mail",  # mailboxes (IMAP, LMTP), intake, threading (docs/mail.md)
    "flowdesk.demo",
    "flowdesk.web",  # the agent workspace: templates and static files (htmx, vendored)
    # The rule studio, before the admin so its admin templates (theme) win.
    "flowdesk.studio",
    "django.contrib.admin",  # at /studio/admin/, admins only (flowdesk.studio.admin)
    "flowdesk.portal",  # the customer portal (docs/portal.md)
    "flowdesk.chat",  # live chat: the widget, visitor endpoints, the agent console (docs/chat.md)
]

MIDDLEWARE = [
    # First, so every error under /api/ (even one raised by the middleware below) is JSON.
    "flowdesk.api.errors.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The embedded server (waitress) serves no static files: the API docs' assets come from here.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # cookie, then Accept-Language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # A query or form field holding NUL is refused by name (PostgreSQL cannot store it).
    "flowdesk.core.nul.NulInputMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "flowdesk.core.i18n.UserLanguageMiddleware",  # a signed-in user's own choice wins
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "flowdesk.config.urls"
WSGI_APPLICATION = "flowdesk.config.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]


SQLITE_ENGINE = "flowdesk.core.sqlite"


def _database() -> dict[str, object]:
    url = os.environ.get("FLOWDESK_DATABASE_URL")
    if not url:
        return {
            # Django's SQLite backend with the writers of a process queued in memory
            # (flowdesk.core.sqlite: no busy-wait sleeps between writers).
            "ENGINE": SQLITE_ENGINE,
            "NAME": str(DATA_DIR / "flowdesk.sqlite3"),
            # Connections stay open across requests (opening one runs the PRAGMAs again).
            "CONN_MAX_AGE": 600,
            "CONN_HEALTH_CHECKS": True,
            # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at BEGIN so two
            # writers queue up instead of failing half-way with "database is locked".
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            "TEST": {"NAME": os.environ.get("FLOWDESK_TEST_SQLITE_NAME") or None},
        }
    config = dict(dj_database_url.parse(url, conn_max_age=60))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["ENGINE"] = SQLITE_ENGINE
        config["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    elif os.environ.get("FLOWDESK_DB_PREPARED_STATEMENTS", "1") != "0":
        # Server-side parameters and prepared statements: PostgreSQL parses and plans each hot
        # statement once per connection instead of once per call (docs/benchmarks.md, "HTTP
        # load": 4.6 -> 2.3-2.8 ms of PostgreSQL CPU per ticket create). Set 0 behind a pooler
        # that shares server connections between transactions (pgbouncer in transaction mode).
        options: dict[str, Any] = {"server_side_binding": True, "prepare_threshold": 5}
        options.update(config.get("OPTIONS") or {})  # type: ignore[call-overload]
        config["OPTIONS"] = options
    if config["ENGINE"] != SQLITE_ENGINE and os.environ.get("FLOWDESK_TEST_DB_NAME"):
        # Test databases of concurrent runs on one server must not share a name (the suite
        # drops and recreates its own); scripts/test gives each run its own.
        config["TEST"] = {"NAME": os.environ["FLOWDESK_TEST_DB_NAME"]}
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# English and Filipino (flowdesk.core.i18n: Django has no Filipino locale of its own).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fil", "Filipino")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["flowdesk.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
# Static files (the API docs' Swagger UI) are served by WhiteNoise straight from the installed
# apps, so a fresh clone needs no collectstatic. Set FLOWDESK_STATIC_ROOT to collect them
# (`flowdesk collectstatic`) for a proxy to serve instead.
STATIC_ROOT = os.environ.get("FLOWDESK_STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True

TASKS = {
    "default": {
        "BACKEND": os.environ.get("FLOWDESK_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

EMAIL_BACKEND = os.environ.get(
    "FLOWDESK_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = os.environ.get("FLOWDESK_FROM_EMAIL", "support@flowdesk.localhost")
# Used by the file-based backend (the demo's default): one file per delivery batch.
EMAIL_FILE_PATH = os.environ.get("FLOWDESK_EMAIL_FILE_PATH", str(DATA_DIR / "mail"))

# Request limits (flowdesk.api.errors answers 413 naming the limit; docs/api.md). Rule-set
# imports, validation and dry runs may carry large rule sets; every other API body is small.
_API_MAX_BYTES = int(os.environ.get("FLOWDESK_API_MAX_BYTES", str(1024 * 1024)))
_RULES_MAX_BYTES = int(os.environ.get("FLOWDESK_RULES_MAX_BYTES", str(64 * 1024 * 1024)))
# Django's own body limit (2.5 MB by default, answered with an HTML 400) must not cut in before
# the API's limits; no other page accepts a body.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(_API_MAX_BYTES, _RULES_MAX_BYTES)

FLOWDESK = {
    # Outbox delivery: attempts before an item is marked failed, and the backoff base in seconds.
    # Timers (docs/sla.md, "Timers"): how long a worker's claim on due timers lasts, how often an
    # idle worker looks for due timers, how many it fires per transaction, and when a firing
    # that raised is tried again.
    "TIMER_LEASE_SECONDS": float(os.environ.get("FLOWDESK_TIMER_LEASE_SECONDS", "30")),
    "TIMER_POLL_SECONDS": float(os.environ.get("FLOWDESK_TIMER_POLL_SECONDS", "0.25")),
    "TIMER_BATCH": int(os.environ.get("FLOWDESK_TIMER_BATCH", "50")),
    "TIMER_RETRY_SECONDS": float(os.environ.get("FLOWDESK_TIMER_RETRY_SECONDS", "30")),
    "OUTBOX_MAX_ATTEMPTS": int(os.environ.get("FLOWDESK_OUTBOX_MAX_ATTEMPTS", "5")),
    "OUTBOX_BACKOFF_SECONDS": float(os.environ.get("FLOWDESK_OUTBOX_BACKOFF_SECONDS", "30")),
    "WEBHOOK_TIMEOUT_SECONDS": float(os.environ.get("FLOWDESK_WEBHOOK_TIMEOUT", "10")),
    "PAGE_SIZE_MAX": 200,
    # Agents (not admins) see only their teams' tickets, unteamed ones, and their own.
    "AGENT_TEAM_SCOPE": os.environ.get("FLOWDESK_AGENT_TEAM_SCOPE", "1") == "1",
    "API_MAX_BYTES": _API_MAX_BYTES,
    "RULES_MAX_BYTES": _RULES_MAX_BYTES,
    # The text of a message (a ticket's first message, a reply, a note), and its HTML.
    "MESSAGE_MAX_CHARS": int(os.environ.get("FLOWDESK_MESSAGE_MAX_CHARS", "100000")),
    # Outbox workers (docs/deployment.md, "Delivery"): deliveries in flight per worker, per
    # destination (webhook host or SMTP server) per worker, the lease a claim holds (renewed by a
    # heartbeat; an expired one is taken over by any worker), how often a worker looks for due
    # items, the circuit breaker (consecutive failures, then the destination waits), the answer
    # time above which a delivery is recorded as slow, and the SMTP timeout (when Django's
    # EMAIL_TIMEOUT is unset).
    "OUTBOX_CONCURRENCY": int(os.environ.get("FLOWDESK_OUTBOX_CONCURRENCY", "4")),
    "OUTBOX_DESTINATION_CONCURRENCY": int(
        os.environ.get("FLOWDESK_OUTBOX_DESTINATION_CONCURRENCY", "2")
    ),
    "OUTBOX_LEASE_SECONDS": float(os.environ.get("FLOWDESK_OUTBOX_LEASE_SECONDS", "30")),
    "OUTBOX_POLL_SECONDS": float(os.environ.get("FLOWDESK_OUTBOX_POLL_SECONDS", "0.5")),
    "OUTBOX_BREAKER_FAILURES": int(os.environ.get("FLOWDESK_OUTBOX_BREAKER_FAILURES", "5")),
    "OUTBOX_BREAKER_SECONDS": float(os.environ.get("FLOWDESK_OUTBOX_BREAKER_SECONDS", "30")),
    "OUTBOX_SLOW_SECONDS": float(os.environ.get("FLOWDESK_OUTBOX_SLOW_SECONDS", "2")),
    "MAIL_TIMEOUT_SECONDS": float(os.environ.get("FLOWDESK_MAIL_TIMEOUT", "10")),
    # Dry runs (POST /api/rules/dry-run) per user per minute; 0 = unlimited. Over it: 429.
    "DRY_RUN_PER_MINUTE": int(os.environ.get("FLOWDESK_DRY_RUN_PER_MINUTE", "30")),
    # Failed web sign-ins per client address and e-mail in 15 minutes before more are refused
    # (counted in Django's cache: per process with the default cache); 0 = unlimited.
    "LOGIN_FAILURES": int(os.environ.get("FLOWDESK_LOGIN_FAILURES", "10")),
    # The customer portal (docs/portal.md, "Settings"). Org tickets: customers also see (read
    # only) their organization's tickets. Links: how long a sign-in link and a new-request
    # confirmation link stay valid. Requests: new tickets, confirmation mails and sign-in links
    # per client address and per e-mail per hour (0 = unlimited). Attachments: bytes per file,
    # files per message, allowed file-name extensions.
    "PORTAL_ORG_TICKETS": os.environ.get("FLOWDESK_PORTAL_ORG_TICKETS", "0") == "1",
    "PORTAL_SIGNIN_LINK_MINUTES": int(os.environ.get("FLOWDESK_PORTAL_SIGNIN_LINK_MINUTES", "15")),
    "PORTAL_CONFIRM_LINK_HOURS": int(os.environ.get("FLOWDESK_PORTAL_CONFIRM_LINK_HOURS", "48")),
    "PORTAL_REQUESTS_PER_HOUR": int(os.environ.get("FLOWDESK_PORTAL_REQUESTS_PER_HOUR", "10")),
    "PORTAL_ATTACHMENT_MAX_BYTES": int(
        os.environ.get("FLOWDESK_PORTAL_ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024))
    ),
    "PORTAL_ATTACHMENT_MAX_COUNT": int(os.environ.get("FLOWDESK_PORTAL_ATTACHMENT_MAX_COUNT", "5")),
    # Webhooks: how many bytes of an answer are read (the rest is not waited for).
    "WEBHOOK_MAX_RESPONSE_BYTES": int(
        os.environ.get("FLOWDESK_WEBHOOK_MAX_RESPONSE_BYTES", "65536")
    ),
    # Knowledge base (docs/knowledge.md): an article view not followed by a ticket from the same
    # visitor within this many minutes counts as deflected.
    "KB_DEFLECTION_MINUTES": int(os.environ.get("FLOWDESK_KB_DEFLECTION_MINUTES", "30")),
    # Mail (docs/mail.md): a reply to a closed ticket reopens it within this many days of its
    # closing (else it starts a new ticket linked to the old one); automatic mails (rule
    # replies, surveys) per recipient per hour (0 = unlimited); a mail that cannot be processed
    # is retried this many times, the first after this many seconds (doubling); the signed
    # reference line in outgoing text (a last threading resort when clients drop headers).
    "MAIL_REOPEN_DAYS": int(os.environ.get("FLOWDESK_MAIL_REOPEN_DAYS", "7")),
    "MAIL_AUTO_REPLIES_PER_HOUR": int(os.environ.get("FLOWDESK_MAIL_AUTO_REPLIES_PER_HOUR", "3")),
    "MAIL_MAX_ATTEMPTS": int(os.environ.get("FLOWDESK_MAIL_MAX_ATTEMPTS", "8")),
    "MAIL_RETRY_SECONDS": float(os.environ.get("FLOWDESK_MAIL_RETRY_SECONDS", "60")),
    "MAIL_BODY_MARKER": os.environ.get("FLOWDESK_MAIL_BODY_MARKER", "0") == "1",
    # Mails one worker processes per transaction round, and how long its claim on them lasts.
    "MAIL_PROCESS_BATCH": int(os.environ.get("FLOWDESK_MAIL_PROCESS_BATCH", "10")),
    "MAIL_LEASE_SECONDS": float(os.environ.get("FLOWDESK_MAIL_LEASE_SECONDS", "60")),
    # Live chat (docs/chat.md): chats a client address may start per hour on one site, messages
    # a visitor may send per minute, the longest message, how long a visitor who stopped polling
    # still counts as present, and whether the widget and console may use Server-Sent Events
    # (offered only under the ASGI server, flowdesk.config.asgi; a stream lasts CHAT_SSE_SECONDS,
    # then the browser reconnects).
    "CHAT_STARTS_PER_HOUR": int(os.environ.get("FLOWDESK_CHAT_STARTS_PER_HOUR", "20")),
    "CHAT_MESSAGES_PER_MINUTE": int(os.environ.get("FLOWDESK_CHAT_MESSAGES_PER_MINUTE", "30")),
    "CHAT_MESSAGE_MAX": int(os.environ.get("FLOWDESK_CHAT_MESSAGE_MAX", "4000")),
    "CHAT_IDLE_SECONDS": int(os.environ.get("FLOWDESK_CHAT_IDLE_SECONDS", "120")),
    "CHAT_SSE": os.environ.get("FLOWDESK_CHAT_SSE", "0") == "1",
    "CHAT_SSE_SECONDS": int(os.environ.get("FLOWDESK_CHAT_SSE_SECONDS", "25")),
    # How often a process's stream watcher reads the stamps of the chats its streams follow.
    "CHAT_SSE_TICK": float(os.environ.get("FLOWDESK_CHAT_SSE_TICK", "0.25")),
}
# The languages knowledge-base articles may be written in (comma-separated codes).
FLOWDESK_KB_LANGUAGES = [
    c.strip() for c in os.environ.get("FLOWDESK_KB_LANGUAGES", "en,fil").split(",") if c.strip()
]
# Hosts, addresses or CIDR networks webhooks may reach although private (comma-separated; empty:
# none). A setting of its own: a list among FLOWDESK's numbers would untype all of them.
FLOWDESK_WEBHOOK_ALLOW_PRIVATE = [
    h.strip() for h in os.environ.get("FLOWDESK_WEBHOOK_ALLOW_PRIVATE", "").split(",") if h.strip()
]

# File-name extensions the portal accepts as attachments (comma-separated, lower case).
FLOWDESK_PORTAL_ATTACHMENT_TYPES = [
    t.strip().lower().lstrip(".")
    for t in os.environ.get(
        "FLOWDESK_PORTAL_ATTACHMENT_TYPES",
        "png,jpg,jpeg,gif,webp,pdf,txt,log,csv,json,xml,zip,docx,xlsx,pptx,odt,ods,eml",
    ).split(",")
    if t.strip()
]
# Uploaded files go through Django's storage API (the default storage: files under MEDIA_ROOT;
# configure STORAGES for another backend). They are never served from MEDIA_URL: downloads go
# through a view that checks access to the ticket.
MEDIA_ROOT = os.environ.get("FLOWDESK_MEDIA_ROOT") or str(DATA_DIR / "media")

NINJA_PAGINATION_PER_PAGE = 50

# The agent workspace (flowdesk.web, docs/web.md): Django session sign-in with CSRF.
LOGIN_URL = "/login"
LOGIN_REDIRECT_URL = "/agent/"
LOGOUT_REDIRECT_URL = "/login"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = os.environ.get("FLOWDESK_SECURE_COOKIES", "0") == "1"
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("FLOWDESK_LOG_LEVEL", "WARNING")},
}
