"""Settings for the trading system, read from the environment through django-environ.

With no environment at all the system runs on its embedded default: SQLite in WAL mode,
a file-system Celery broker under ``var/``, paper accounts and a simulated market.
``.env.example`` documents every variable.
"""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)  # the embedded default keeps its database and broker here

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="insecure-dev-key-change-me-" + "x" * 32)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets served from our own static files (no CDN)
    "django_celery_beat",
    "accounts",
    "strategies",
    "risk",
    "execution",
    "tradingsite",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # request.htmx: the dashboard answers its live-refresh requests with a fragment.
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "tradingsite.urls"
WSGI_APPLICATION = "tradingsite.wsgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite by default. WAL lets the web process read while a worker writes; IMMEDIATE
# transactions take the write lock at BEGIN so two workers never deadlock upgrading a read lock.
SQLITE_PATH = VAR_DIR / "db.sqlite3"
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    # Connections live as long as their process ("none"), checked before each request or task by
    # CONN_HEALTH_CHECKS. With a limit of a minute or so every worker thread reconnected at the
    # next bar (1m strategies): a new connection per order task, its prepared statements lost.
    conn_max_age = env.str("CONN_MAX_AGE", default="none").strip().lower()
    if conn_max_age != "none" and not conn_max_age.isdigit():
        raise ImproperlyConfigured(f"CONN_MAX_AGE must be a number of seconds or 'none', not {conn_max_age!r}.")
    DATABASES["default"].setdefault("CONN_MAX_AGE", None if conn_max_age == "none" else int(conn_max_age))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    # Parameters bound by the server, and a statement run a few times on one connection prepared
    # there: PostgreSQL then parses and plans each statement of the order path once per connection
    # instead of on every order (about half its CPU per order). Off for a transaction-pooling
    # PgBouncer, which cannot keep prepared statements across transactions.
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 2})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Time: UTC in storage, Asia/Kolkata for the market and the operator ----------------------
USE_TZ = True
TIME_ZONE = "Asia/Kolkata"
MARKET_TIME_ZONE = "Asia/Kolkata"
LANGUAGE_CODE = "en-in"
USE_I18N = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_BACKEND",
            default="django.contrib.staticfiles.storage.StaticFilesStorage",
        )
    },
}

# The dashboard's own login page: the admin's refuses users without staff rights, and viewers
# who may only read the dashboard are not staff.
LOGIN_URL = "dashboard:login"
LOGIN_REDIRECT_URL = "dashboard:overview"
LOGOUT_REDIRECT_URL = "dashboard:login"

# --- Celery -----------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_FS_BROKER_DIR = VAR_DIR / "celery-broker"
# A prefix for every broker key, so several deployments (or test runs) can share one Redis.
CELERY_KEY_PREFIX = env.str("CELERY_KEY_PREFIX", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # kombu's Redis transport, made to survive a Redis restart (tradingsite/broker.py says how).
    CELERY_BROKER_TRANSPORT = "tradingsite.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    if CELERY_KEY_PREFIX:
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = CELERY_KEY_PREFIX
else:
    # The embedded default: a broker that is just folders on disk, so no service is needed.
    # A host named, though the transport needs none: with none, kombu warns on every connection.
    CELERY_BROKER_URL = "filesystem://localhost/"
    # kombu's file-system transport, writing each message whole before a worker can read it
    # (tradingsite/broker.py says why).
    CELERY_BROKER_TRANSPORT = "tradingsite.broker:FilesystemTransport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FS_BROKER_DIR / "out"),
        "data_folder_out": str(CELERY_FS_BROKER_DIR / "out"),
        "processed_folder": str(CELERY_FS_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_FS_BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = MARKET_TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Every task is acknowledged when it starts, so none is redelivered while it runs, however long
# (backtests, the emergency stop, reconciliation). Orders do not need redelivery: a delivery row,
# not the message, says what must happen, and the delivery sweeper re-drives what a lost message
# left pending. The visibility timeout (above) then only hands back a message a worker had taken
# but not started (prefetch, one per process) when that worker died.
CELERY_TASK_ACKS_LATE = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "execution.tasks.execute_signal_for_accounts": {"queue": "orders"},
    "execution.tasks.execute_signal_for_account": {"queue": "orders"},  # earlier releases' messages
}
# django-celery-beat's, keeping its schedule through a PostgreSQL restart (tradingsite/beat.py).
CELERY_BEAT_SCHEDULER = "tradingsite.beat:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Ride out a Redis restart: reconnect for as long as it takes, never give up and exit.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Keep database connections across tasks: without this Celery's Django fixup closes them before
# and after every task (a new PostgreSQL connection, ~6 ms, per order). tradingsite/celery.py
# applies Django's CONN_MAX_AGE and health-check rules around each task instead.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)

# --- Trading ----------------------------------------------------------------------------------
# Which market-data source the engine reads: "simulated" (deterministic, labelled as such),
# "database" (stored candles) or "kite" (historical API, once Kite accounts are set up).
MARKET_DATA_SOURCE = env.str("MARKET_DATA_SOURCE", default="simulated")
# The simulated market is open around the clock so that a newcomer sees trades at any hour.
# Real market data always follows the NSE calendar.
SIMULATED_MARKET_24X7 = env.bool("SIMULATED_MARKET_24X7", default=True)
# Strategy evaluation (README, "How a bar is evaluated"). A target change on a bar that was not
# evaluated is caught up on the next evaluated bar if it happened within this window: "session"
# (the same trading session) or a number of minutes. The evaluation ledger keeps this many days.
EVALUATION_CATCH_UP_WINDOW = env.str("EVALUATION_CATCH_UP_WINDOW", default="session").strip().lower()
if EVALUATION_CATCH_UP_WINDOW != "session" and not (
    EVALUATION_CATCH_UP_WINDOW.isdigit() and int(EVALUATION_CATCH_UP_WINDOW) > 0
):
    raise ImproperlyConfigured(
        f"EVALUATION_CATCH_UP_WINDOW={EVALUATION_CATCH_UP_WINDOW!r}: use 'session' or a positive number of minutes."
    )
EVALUATION_LEDGER_DAYS = env.int("EVALUATION_LEDGER_DAYS", default=7)
# The per-instrument detail (target, stop, close, indicators, note) of every instrument is kept this
# many days; after that a row keeps it only for the instruments that signalled or were caught up
# (README, "The ledger's size"). Each strategy's last evaluated bar keeps all of it.
EVALUATION_DETAIL_DAYS = env.int("EVALUATION_DETAIL_DAYS", default=2)
# The trader's own strategies: modules whose @register'ed Strategy classes join the library (also
# found through the "trading.strategies" package entry point). README, "Your own strategies".
STRATEGY_MODULES = [m.strip() for m in env.list("STRATEGY_MODULES", default=[]) if m.strip()]
# A bar with at least EVALUATION_PARALLEL_FROM (strategy, instrument) pairs is split across this
# many evaluation processes (default: the machine's cores, at most 4); 1 evaluates in the worker.
EVALUATION_PROCESSES = env.int("EVALUATION_PROCESSES", default=min(os.cpu_count() or 1, 4))
EVALUATION_PARALLEL_FROM = env.int("EVALUATION_PARALLEL_FROM", default=1000)
if EVALUATION_PROCESSES < 1 or EVALUATION_PARALLEL_FROM < 1:
    raise ImproperlyConfigured("EVALUATION_PROCESSES and EVALUATION_PARALLEL_FROM must be at least 1.")
if EVALUATION_LEDGER_DAYS < 1:
    raise ImproperlyConfigured("EVALUATION_LEDGER_DAYS must be at least 1.")
if EVALUATION_DETAIL_DAYS < 1:
    raise ImproperlyConfigured("EVALUATION_DETAIL_DAYS must be at least 1.")
PAPER_SLIPPAGE_BPS = Decimal(env.str("PAPER_SLIPPAGE_BPS", default="5"))
# A signal's order messages expire this many seconds after the signal was recorded: a message
# redelivered late (a worker died holding it; Redis gives it back after the visibility timeout)
# never trades on a stale signal.
SIGNAL_ORDER_TTL_SECONDS = env.int("SIGNAL_ORDER_TTL_SECONDS", default=60)
# Deliveries (execution/engine/delivery.py): the sweeper runs every DELIVERY_SWEEP_SECONDS on beat
# and sends again each delivery still pending DELIVERY_GRACE_SECONDS after its signal (or its last
# nudge), until the TTL above, then expires it with its reason.
DELIVERY_SWEEP_SECONDS = env.int("DELIVERY_SWEEP_SECONDS", default=5)
DELIVERY_GRACE_SECONDS = env.int("DELIVERY_GRACE_SECONDS", default=5)
# Operations (execution/operations/sweep.py, on beat every 5 s): one still queued
# OPERATION_REQUEUE_SECONDS after it was created (its message lost) is sent again; one running whose
# worker has not reported for OPERATION_STALL_SECONDS (its worker lost; a flatten reports every few
# seconds, Kite calls time out in 7) is marked failed and replaced by a new one of the same scope.
OPERATION_REQUEUE_SECONDS = env.int("OPERATION_REQUEUE_SECONDS", default=15)
OPERATION_STALL_SECONDS = env.int("OPERATION_STALL_SECONDS", default=120)
if OPERATION_REQUEUE_SECONDS < 1 or OPERATION_STALL_SECONDS < 30:
    raise ImproperlyConfigured(
        "OPERATION_REQUEUE_SECONDS must be at least 1 and OPERATION_STALL_SECONDS at least 30 (a run reports "
        "every few seconds; a shorter limit would replace runs that are still working)."
    )
# Webhook alerts: requests per minute per webhook URL, and the window in which alerts without a
# bar_time for the same strategy and instrument make one signal.
WEBHOOK_RATE_LIMIT = env.int("WEBHOOK_RATE_LIMIT", default=30)
WEBHOOK_REPEAT_WINDOW_SECONDS = env.int("WEBHOOK_REPEAT_WINDOW_SECONDS", default=60)
# Every webhook request is recorded (admin: Webhook requests); a nightly beat task deletes those
# older than this many days. The signals they made stay.
WEBHOOK_REQUEST_RETENTION_DAYS = env.int("WEBHOOK_REQUEST_RETENTION_DAYS", default=30)
if WEBHOOK_REQUEST_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("WEBHOOK_REQUEST_RETENTION_DAYS must be at least 1.")
# A signal's accounts travel in order messages of this many; a worker runs one message's accounts
# side by side on up to ORDER_THREADS threads of its own (execution/order_threads.py). Smaller
# batches spread a signal over more workers; larger ones pay Celery's per-message cost less often.
ORDER_FANOUT_BATCH = env.int("ORDER_FANOUT_BATCH", default=10)
ORDER_THREADS = env.int("ORDER_THREADS", default=25)
if ORDER_FANOUT_BATCH < 1 or ORDER_THREADS < 1:
    raise ImproperlyConfigured("ORDER_FANOUT_BATCH and ORDER_THREADS must be at least 1.")
# Intraday (MIS) positions are squared off by the system from this time (HH:MM, India time) on
# trading days, before the broker's own square-off. The around-the-clock simulated market has no
# end of day, so there it runs only if MIS_SQUARE_OFF_AROUND_THE_CLOCK is on.
MIS_SQUARE_OFF_TIME = env.str("MIS_SQUARE_OFF_TIME", default="15:15")
MIS_SQUARE_OFF_AROUND_THE_CLOCK = env.bool("MIS_SQUARE_OFF_AROUND_THE_CLOCK", default=False)
# Equity snapshots (the intraday equity curve) are kept a minute apart for this many days, then
# compacted to the day's last one by a nightly beat task.
EQUITY_MINUTE_RETENTION_DAYS = env.int("EQUITY_MINUTE_RETENTION_DAYS", default=7)
if EQUITY_MINUTE_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("EQUITY_MINUTE_RETENTION_DAYS must be at least 1 (today's curve needs its minutes).")
KITE_ALGO_ID = env.str("KITE_ALGO_ID", default="")
KITE_API_ROOT = env.str("KITE_API_ROOT", default="https://api.kite.trade")
# Base of Kite's login page; empty means Kite's own (https://kite.zerodha.com/connect/login).
# The local emulator serves one at {KITE_API_ROOT}/connect/login.
KITE_LOGIN_URL = env.str("KITE_LOGIN_URL", default="")
# Seconds before a Kite call is abandoned; a placement that times out becomes UNKNOWN, never re-sent.
KITE_TIMEOUT_SECONDS = env.float("KITE_TIMEOUT_SECONDS", default=7.0)
# MARKET and SL-M orders must carry a non-zero market protection: -1 lets Kite apply its automatic
# protection, or a percentage in (0, 100]. Without it Kite rejects them.
KITE_MARKET_PROTECTION = env.float("KITE_MARKET_PROTECTION", default=-1)
# An UNKNOWN order (placement timed out or failed mid-way) is looked for by tag in the order book; it
# is declared "not found at broker" (REJECTED) only after this many lookups spanning at least this long,
# because Kite's order book may lag a placement by some seconds.
KITE_UNKNOWN_GRACE_SECONDS = env.float("KITE_UNKNOWN_GRACE_SECONDS", default=90.0)
KITE_UNKNOWN_MIN_CHECKS = env.int("KITE_UNKNOWN_MIN_CHECKS", default=4)
# Seconds to wait after a 429 on placement before looking in the order book and deciding.
KITE_RATE_LIMIT_BACKOFF_SECONDS = env.float("KITE_RATE_LIMIT_BACKOFF_SECONDS", default=1.0)

# The API: token or session login on every endpoint, staff for writes, one error body.
# Token first so an anonymous request gets 401 with ``WWW-Authenticate: Token``.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tradingsite.api.permissions.StaffWritesOnly"],
    "DEFAULT_THROTTLE_CLASSES": [
        "tradingsite.api.throttling.UserThrottle",
        "tradingsite.api.throttling.AnonThrottle",
    ],
    "EXCEPTION_HANDLER": "tradingsite.api.errors.api_exception_handler",
    # Times in India time with their offset, whatever the view returns (tradingsite/api/renderers.py).
    "DEFAULT_RENDERER_CLASSES": [
        "tradingsite.api.renderers.ApiJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "tradingsite.api.schema.ApiAutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "tradingsite.api.pagination.Pagination",
    "PAGE_SIZE": 50,
}
# Requests per user (logged in) and per client address (anonymous); read on every request.
API_THROTTLE_RATES = {
    "user": env.str("API_THROTTLE_USER", default="600/minute"),
    "anon": env.str("API_THROTTLE_ANON", default="30/minute"),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Multi-account trading system API",
    "DESCRIPTION": (
        "Operate the engine, accounts, strategies and mappings; read orders, fills, positions, signals, "
        "risk decisions and P&L. Log in with a session or `Authorization: Token <key>`; writes need staff. "
        'Every error answers `{"error": {"code", "message", "fields": {field: [reasons]}}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,  # write-only fields (api_secret) appear in requests only
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Security: hostile input, headers, sessions, the shared cache (README "Security") -----------
# Kept in one block so the other sections stay as they were.
# A request body over this many bytes is refused with 413 before any view reads it.
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES
# JSON nested deeper than this (API bodies, postbacks) is a 400; NaN and Infinity always are.
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=32)
MIDDLEWARE.insert(0, "tradingsite.middleware.RequestBodyLimitMiddleware")
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")
MIDDLEWARE.insert(
    MIDDLEWARE.index("csp.middleware.CSPMiddleware") + 1, "django_permissions_policy.PermissionsPolicyMiddleware"
)
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "tradingsite.api.parsers.StrictJSONParser",
    "rest_framework.parsers.FormParser",
    "rest_framework.parsers.MultiPartParser",
]
# A login lasts this long, however active (a console that moves money should not stay open for days).
SESSION_COOKIE_AGE = int(env.float("SESSION_HOURS", default=12) * 3600)
# No inline script anywhere: the dashboard's JavaScript is static files. Inline styles stay allowed:
# htmx, the chart libraries and the admin's change lists set some, and a style cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
        "fullscreen",
    )
}
# Kite postbacks: one whose order timestamp is older than this, or already seen within it, is
# acknowledged without work; the Kite calls postbacks start are limited per account.
KITE_POSTBACK_MAX_AGE_SECONDS = env.int("KITE_POSTBACK_MAX_AGE_SECONDS", default=24 * 3600)
KITE_POSTBACK_WORK_RATE = env.str("KITE_POSTBACK_WORK_RATE", default="30/minute")
# Throttle counts, webhook rate counts and seen postbacks must be seen by every process: Redis when
# there is one, else files under var/ (the embedded default has no services). The cache defaults
# to the Redis database after the broker's (REDIS_URL's /0 gives /1; /15 wraps to /0), so clearing
# the cache (FLUSHDB) never drops Celery's queued messages; CACHE_REDIS_URL chooses another.
REDIS_DATABASES = 16  # Redis's default "databases"


def _next_redis_database(url: str) -> str:
    """``url`` pointing at the Redis database after its own (the db in the path or in ``?db=``)."""
    from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if "db" in query or parts.scheme == "unix":  # unix:///run/redis.sock?db=0, or ?db= on any URL
        database = query.get("db", ["0"])[0]
        if not database.isdigit():
            raise ImproperlyConfigured(f"REDIS_URL: the database {database!r} is not a number.")
        query["db"] = [str((int(database) + 1) % REDIS_DATABASES)]
        return f"{url.split('?', 1)[0]}?{urlencode(query, doseq=True)}"
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ImproperlyConfigured(f"REDIS_URL: the database {path!r} is not a number.")
    database = (int(path or 0) + 1) % REDIS_DATABASES
    return urlunsplit(parts._replace(path=f"/{database}"))


CACHE_REDIS_URL = env.str("CACHE_REDIS_URL", default="") or (_next_redis_database(REDIS_URL) if REDIS_URL else "")
if CACHE_REDIS_URL:
    CACHES = {
        "default": {
            # Django's Redis cache, carrying on while Redis restarts (tradingsite/cache.py), and never
            # waiting long on a Redis that does not answer.
            "BACKEND": "tradingsite.cache.SharedRedisCache",
            "LOCATION": CACHE_REDIS_URL,
            "KEY_PREFIX": CELERY_KEY_PREFIX,
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
INSTALLED_APPS += ["csp"]

# Login lockouts (django-axes) on every login surface: the dashboard, the admin, the token endpoint
# and the second-factor page. By username and client address, kept in the database (every process
# sees it); LOGIN_FAILURE_LIMIT failures lock that pair for LOGIN_COOLOFF_MINUTES after the last.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "tradingsite.client_address.client_address"
AXES_LOCKOUT_CALLABLE = "tradingsite.lockout.lockout_response"
# How many proxies of this deployment stand in front of the web process and append to
# X-Forwarded-For. 0 (the default): the header is not read at all, a client cannot choose its address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

# API tokens (django-rest-knox): hashed at rest, API_TOKEN_DAYS (30) long, revocable.
API_TOKEN_DAYS = env.int("API_TOKEN_DAYS", default=30)
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=API_TOKEN_DAYS) if API_TOKEN_DAYS else None,
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
    "knox.auth.TokenAuthentication",
    "rest_framework.authentication.SessionAuthentication",
]

# A second factor for staff (django-otp: TOTP, with recovery codes). Required here only for staff
# who enrolled one; the production settings require it of every staff login.
OTP_REQUIRED_FOR_STAFF = env.bool("OTP_REQUIRED_FOR_STAFF", default=False)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Trading desk")

# The security apps register before "tradingsite", whose admin.py replaces some of their pages.
_site = INSTALLED_APPS.index("tradingsite")
INSTALLED_APPS[_site:_site] = [
    "axes",
    "knox",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "auditlog",
]
_auth = MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1
MIDDLEWARE[_auth:_auth] = [
    "django_otp.middleware.OTPMiddleware",
    "tradingsite.two_factor.SecondFactorMiddleware",
    # Who changed what, from which address (django-auditlog; tradingsite/audit.py).
    "tradingsite.audit.AuditMiddleware",
]
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # last, as django-axes asks

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "filters": {"one_line_403": {"()": "tradingsite.logs.OneLineForbidden"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # A 403 is one line naming the user, without a traceback (tradingsite/logs.py).
    # django-axes announces its version on every start, in every command's output: not news to an operator.
    "loggers": {"django.request": {"filters": ["one_line_403"]}, "axes.apps": {"level": "WARNING"}},
}

# Fernet keys for broker secrets at rest, newest first; older keys still decrypt.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
