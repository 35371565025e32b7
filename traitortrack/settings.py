"""TraitorTrack settings. Every value comes from the environment; defaults are safe for development.

The README's configuration table lists every variable read here.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.contrib.messages import constants as message_constants
from django.core.exceptions import ImproperlyConfigured

from traitortrack.embedded_db import database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def _env_number(name: str, default, kind: type, what: str):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return kind(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be {what}, not {value!r}") from exc


def env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "a whole number")


def env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number of seconds")


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DEBUG", False)

# A fixed key is fine on a developer's machine; `manage.py check --deploy` refuses it in production.
SECRET_KEY = os.environ.get("SECRET_KEY") or "django-insecure-development-only-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
CSRF_FAILURE_VIEW = "traitortrack.edge.csrf_failure"

INSTALLED_APPS = [
    # accounts.apps.TraitorTrackAdminConfig is django.contrib.admin with the OTP-only admin site.
    "accounts.apps.TraitorTrackAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # intcomma: counts and weights with Indian grouping (traitortrack/formats)
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",  # login lockout; its admin lists and unlocks (deletes) the access attempts
    "import_export",  # the admin's export of the small tables (products, areas, users, bills)
    "procrastinate.contrib.django",  # the background queue, on our PostgreSQL (imports/tasks.py)
    # Our apps in their layer order, lowest first (README "Where things live", .importlinter): an app
    # imports only those before it, and its admin module is loaded after theirs.
    "audit",
    "accounts",
    "bags",
    "scanning",
    "bills",
    "returns",
    "tracking",
    "labels",
    "exports",
    "imports",
    "reports",
    "overview",
]

MIDDLEWARE = [
    "traitortrack.metrics.RequestMetricsMiddleware",  # first: counts every response, in memory (the system page)
    "django.middleware.security.SecurityMiddleware",
    # Before whitenoise and every middleware that may answer by itself, so each response gets the header.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "traitortrack.middleware.RequestIdMiddleware",
    "traitortrack.middleware.SecurityPolicyMiddleware",  # before whitenoise, so static files get it too
    "traitortrack.health.LivenessMiddleware",  # /health before the session and user are read
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "traitortrack.edge.EdgeMiddleware",  # every error in the one shape: JSON under /api/, the error page elsewhere
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before common (Django's documented place): the language from the cookie or the browser;
    # accounts.middleware.UserLanguageMiddleware then puts a logged-in user's own choice over it.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's AuthenticationMiddleware, the user kept for a few seconds; then django-otp's, as its docs place it.
    "accounts.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.SessionTimeoutMiddleware",
    # Each view's declared access (traitortrack/permissions.py), the second factor for admins first.
    "accounts.middleware.AccessMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires: it turns a lockout into the locked-out page
]

ROOT_URLCONF = "traitortrack.urls"
WSGI_APPLICATION = "traitortrack.wsgi.application"

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
                "accounts.context_processors.notifications",
                "reports.context_processors.exception_count",
            ],
        },
    },
]

# Bootstrap names the red alert "danger", Django's error level "error".
MESSAGE_TAGS = {message_constants.ERROR: "danger"}
# Messages ride in the session, which every logged-in page reads anyway; the default (a cookie, then the
# session) sets up both stores on every request, scans included, that never show a message.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# --- Database: PostgreSQL always. No DATABASE_URL means the embedded server (traitortrack/embedded_db.py).
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 10)
DATABASES = {"default": dj_database_url.parse(database_url())}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...)")
if DB_POOL_MAX_SIZE > 0:
    # Chosen by bench/connections.py (figures in the README's Benchmarks): under gevent, persistent
    # connections are per greenlet, so many clients use up the server's connections, while a small pool
    # per worker serves more requests on far fewer connections.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DB_POOL_MIN_SIZE", 2),
        "max_size": DB_POOL_MAX_SIZE,
        # Well under the scan page's 10 s: a request that cannot have a connection soon gets a 503 with
        # Retry-After, which the page retries, instead of holding its slot until the phone gives up.
        "timeout": env_float("DB_POOL_TIMEOUT_SECONDS", 1.5),
        # psycopg_pool retries a lost connection after 1, 3, 7, 15, 31... s of an outage and only gives up
        # after this long (5 minutes by default), so the pool came back 6-21 s after PostgreSQL did. Giving
        # up after half a second lets the next request that waits start a fresh attempt at once: recovery
        # follows the database within about that, at two refused attempts a second per worker meanwhile.
        "reconnect_timeout": env_float("DB_RECONNECT_SECONDS", 0.5),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60)
# A persistent connection is checked before reuse. A pooled one is not: that check is an empty query, a
# round trip on every request (a few percent of a scan's CPU). Instead each gunicorn worker checks its
# idle pooled connections every DB_POOL_CHECK_SECONDS (traitortrack/dbpool.py), and a request that meets
# a connection broken since (a PostgreSQL restart) gets a 503 to retry (traitortrack.edge.server_error),
# which the scan page does with the same client scan id.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = DB_POOL_MAX_SIZE <= 0
# A server that stops answering (a network fault, not a refused port) fails a connection attempt after this
# long instead of the operating system's two minutes.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT_SECONDS", 5))
DB_POOL_CHECK_SECONDS = env_int("DB_POOL_CHECK_SECONDS", 10)
REPLICA_WAIT_SECONDS = 2


def through_transaction_pooler(database: dict) -> None:
    """Settings for a database alias whose DATABASE_URL is PgBouncer in transaction pooling (README "Through
    PgBouncer"): each transaction, and each statement outside one, may run on another server connection, so
    nothing may outlive a transaction on the server. The app keeps no session state of its own (SET LOCAL or
    set_config(..., true), pg_advisory_xact_lock, temporary tables ON COMMIT DROP, LISTEN only in the worker);
    these two are Django's."""
    # QuerySet.iterator() outside a transaction declares its cursor WITH HOLD and fetches from it in later
    # transactions, on whatever server connection they get. The exports declare theirs inside their own
    # transaction (exports/tables.py), where it stays on one server connection.
    database["DISABLE_SERVER_SIDE_CURSORS"] = True
    # Django's default already: psycopg would prepare a statement run often on one server connection and
    # execute it by name on the next, where it does not exist (PgBouncer 1.18 cannot track them).
    database.setdefault("OPTIONS", {})["prepare_threshold"] = None


# pgbouncer: DATABASE_URL is a PgBouncer in transaction pooling. The background worker (LISTEN/NOTIFY) and
# migrate (concurrent index builds, long DDL) then connect to PostgreSQL itself, at DATABASE_DIRECT_URL:
# manage.py swaps it in for those two commands, before these settings are read.
DATABASE_POOLER = os.environ.get("DATABASE_POOLER", "")
if DATABASE_POOLER == "pgbouncer":
    if not os.environ.get("DATABASE_DIRECT_URL"):
        raise ImproperlyConfigured(
            "DATABASE_POOLER=pgbouncer needs DATABASE_DIRECT_URL: the worker and migrate connect to PostgreSQL directly"
        )
    through_transaction_pooler(DATABASES["default"])
elif DATABASE_POOLER:
    raise ImproperlyConfigured(f"DATABASE_POOLER must be pgbouncer or unset, not {DATABASE_POOLER!r}")


def replica_database(url: str) -> dict:
    """The "replica" alias for a streaming standby of the primary at ``url``: connected as the primary is (the
    same pool sizes, or persistent connections), but a replica that is down or busy is left within seconds for
    the primary (traitortrack.replica.read_alias): a request waits at most REPLICA_WAIT_SECONDS for a pooled
    connection, and each one is checked as it is taken (an empty query, on the pages that read there only), so
    a standby restarted meanwhile costs no request a 503. A test mirror of the primary, so Django never creates,
    flushes or migrates a database there (the tests point it at the standby's copy of the test database)."""
    replica = dj_database_url.parse(url)
    if replica["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must point at PostgreSQL (postgres://...)")
    primary = DATABASES["default"]
    replica["CONN_MAX_AGE"] = primary["CONN_MAX_AGE"]
    replica["CONN_HEALTH_CHECKS"] = True
    options = replica.setdefault("OPTIONS", {})
    if "pool" in primary.get("OPTIONS", {}):
        pool = primary["OPTIONS"]["pool"]
        options["pool"] = {**pool, "timeout": min(pool["timeout"], REPLICA_WAIT_SECONDS)}
    options.setdefault("connect_timeout", REPLICA_WAIT_SECONDS)
    replica["TEST"] = {"MIRROR": "default"}
    return replica


# --- Read replica (traitortrack/replica.py, README "Read replica"): the reports, search, exports and the
# dashboard read from it while it is at most DATABASE_REPLICA_MAX_LAG_SECONDS behind. Under a minute: the
# dashboard counts a period for good a minute after it ends (overview.dashboard.SETTLE), from the replica.
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
DATABASE_REPLICA_MAX_LAG_SECONDS = env_int("DATABASE_REPLICA_MAX_LAG_SECONDS", 5)
if not 0 < DATABASE_REPLICA_MAX_LAG_SECONDS < 60:
    raise ImproperlyConfigured("DATABASE_REPLICA_MAX_LAG_SECONDS must be from 1 to 59")
DATABASE_ROUTERS = []
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = replica_database(DATABASE_REPLICA_URL)
    DATABASE_ROUTERS = ["traitortrack.replica.ReplicaRouter"]
    # A client that just wrote reads its next pages from the primary; before axes', which must be last.
    MIDDLEWARE.insert(MIDDLEWARE.index("axes.middleware.AxesMiddleware"), "traitortrack.replica.WroteMiddleware")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache: Redis when REDIS_URL is set, local memory otherwise.
REDIS_URL = os.environ.get("REDIS_URL", "")


def caches_for(redis_url: str) -> dict:
    """A Redis outage must never become an error page, so this alias ignores (and logs) Redis errors
    and gives up fast; anything needing atomic counters (rate limits, locks) gets its own strict alias.

    ``ratelimit`` is that strict alias: no IGNORE_EXCEPTIONS, so an outage reaches accounts.ratelimits,
    which decides what it means (RATELIMIT_FAIL_OPEN). Without Redis it is local memory: counts are per
    worker process, so N workers let through up to N times a limit (fine for one machine in development).
    """
    if not redis_url:
        return {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tt"},
            "ratelimit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tt-ratelimit"},
        }
    return {
        "ratelimit": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "tt-rl",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 0.2,
                "SOCKET_TIMEOUT": 0.2,
            },
        },
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "tt",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        },
    }


CACHES = caches_for(REDIS_URL)
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "traitortrack.cache"

# --- Dashboard (overview/dashboard.py): figures cached per scope this long (one request recomputes them
# after, the others get the previous ones); bag totals recounted at most this often (one pass over the bags
# table, by one process); the page polls this often.
DASHBOARD_FRESH_SECONDS = env_int("DASHBOARD_FRESH_SECONDS", 2)
DASHBOARD_TOTALS_SECONDS = env_int("DASHBOARD_TOTALS_SECONDS", 60)
DASHBOARD_REFRESH_SECONDS = env_int("DASHBOARD_REFRESH_SECONDS", 5)

# --- Rate limits (accounts/ratelimits.py), keyed by user or the username typed, never by IP alone: a whole
# warehouse shares one IP. Counted in the strict "ratelimit" cache alias (see caches_for).
RATELIMIT_USE_CACHE = "ratelimit"
LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10/m")
PASSWORD_RESET_RATE_LIMIT = os.environ.get("PASSWORD_RESET_RATE_LIMIT", "3/m")
TWO_FACTOR_RATE_LIMIT = os.environ.get("TWO_FACTOR_RATE_LIMIT", "5/m")
SCAN_RATE_LIMIT = os.environ.get("SCAN_RATE_LIMIT", "600/m")
# Redis configured but down: let requests through (and log the error) rather than stop every login and
# scan in the warehouse. Logins stay guarded by the lockout below, which counts in the database.
RATELIMIT_FAIL_OPEN = env_bool("RATELIMIT_FAIL_OPEN", True)
# Without REDIS_URL the alias is local memory (per-process counts), which accounts/checks.py warns of.
# Accepted for development and single-process installs only; with Redis the check stays on.
SILENCED_SYSTEM_CHECKS = [] if REDIS_URL else ["accounts.W001"]

# --- Sessions: cached_db survives a Redis outage (falls back to the database).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_IDLE_TIMEOUT_MINUTES = env_int("SESSION_IDLE_TIMEOUT_MINUTES", 30)
SESSION_ABSOLUTE_TIMEOUT_HOURS = env_int("SESSION_ABSOLUTE_TIMEOUT_HOURS", 8)
# The scan page warns this long before either timeout logs the user out.
SESSION_WARNING_MINUTES = env_int("SESSION_WARNING_MINUTES", 5)
# The cookie outlives no session; both timeouts are enforced by accounts.middleware.SessionTimeoutMiddleware.
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT_HOURS * 3600

# --- Auth
AUTH_USER_MODEL = "accounts.User"
# Each process keeps a logged-in user this long instead of reading the row on every request
# (accounts/authentication.py): a role change or deactivation reaches other processes within it. 0: off.
AUTH_USER_CACHE_SECONDS = env_int("AUTH_USER_CACHE_SECONDS", 5)
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"
# django-axes' backend first: it refuses a locked-out username+IP before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]

# --- Login lockout (django-axes, counted in the database): by username and IP together, never IP alone
# (a warehouse shares one IP, and one person's typos must not lock out the shift).
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
# 0 minutes: locked until an admin deletes the access attempt in the admin (Users and access > Login lockouts).
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES) if LOGIN_LOCKOUT_MINUTES > 0 else None
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a good login forgets that pair's earlier typos
AXES_CLIENT_IP_CALLABLE = "audit.services.client_ip"  # the same proxy rules as the audit log
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"  # the page, or JSON for /api/
# Only the lockouts are in the admin (accounts/admin.py), where an admin unlocks by deleting one; the
# login history is the audit log's (user.login / user.login_failure / user.lockout).
AXES_ENABLE_ADMIN = False
# Admins must use TOTP (accounts.middleware.AccessMiddleware); the issuer names us in the phone app.
OTP_TOTP_ISSUER = "TraitorTrack"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Django's hashers, the first one (the one that hashes) computed off the gevent loop (accounts/hashers.py).
PASSWORD_HASHERS = [
    "accounts.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

# --- Transport security. HTTPS=true (production) turns on the redirect, secure cookies and HSTS;
# development and the test suite run over plain http on 127.0.0.1.
HTTPS = env_bool("HTTPS", False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Set on every response by traitortrack.middleware.SecurityPolicyMiddleware. A constant, not an
# environment variable: everything the pages load is served from here (no CDN), and no page or admin
# screen we use has an inline script, style or event handler (tests/e2e/test_csp.py checks in Chromium).
# img-src data: is for the SVG icons Bootstrap's CSS embeds as data: URLs.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Nothing here uses these. The scan page's navigator.vibrate and Web Audio beeps are not gated by
# Permissions-Policy, so denying everything below leaves them working.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "camera",  # allowed on the scanner pages only: CAMERA_PAGE_PERMISSIONS_POLICY
        "microphone",
        "geolocation",
        "payment",
        "usb",
        "serial",
        "hid",
        "midi",
        "accelerometer",
        "gyroscope",
        "magnetometer",
        "display-capture",
    )
)
# The scanner pages (scan, bill, return ticket: traitortrack.middleware.camera_page) read QR codes from
# the camera, decoded by zxing-wasm where the browser has no BarcodeDetector; compiling WebAssembly needs
# 'wasm-unsafe-eval' (it allows no JavaScript eval). Nothing else differs from the policies above.
CAMERA_PAGE_PERMISSIONS_POLICY = PERMISSIONS_POLICY.replace("camera=()", "camera=(self)")
CAMERA_PAGE_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'"
)
if env_bool("BEHIND_TLS_PROXY", False):  # a proxy in front terminates TLS and says so in this header
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /health and /ready are probed over plain HTTP by load balancers inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$"]

# --- Bulk import and export (imports/bag_import.py, imports/bill_import.py, exports/)
# Rows one import takes (the header not counted): 2 million bags and some room. Checked before reading
# when the file says how long it is, and while reading.
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 2_100_000)
# Largest file the admin's import accepts (the command reads local files of any size, up to the row cap).
IMPORT_MAX_UPLOAD_MB = env_int("IMPORT_MAX_UPLOAD_MB", 100)
# Table exports running at once in one worker process: each holds a pooled connection (its server-side
# cursor) for as long as its download lasts, so they may never take the pool from the scans.
EXPORT_MAX_RUNNING = env_int("EXPORT_MAX_RUNNING", 3)
# Address space one import job's process may take (imports/jobs.py): a file that needs more is stopped
# there, and the worker and the web workers never feel it.
IMPORT_JOB_MEMORY_MB = env_int("IMPORT_JOB_MEMORY_MB", 1024)

# --- Background jobs: procrastinate, its queue in our PostgreSQL (README "Background jobs"). Jobs a worker
# takes at once: each import job runs in a process of its own (IMPORT_JOB_MEMORY_MB each).
PROCRASTINATE_WORKER_DEFAULTS = {
    "concurrency": env_int("WORKER_CONCURRENCY", 2),
    "delete_jobs": "successful",
}
# The big tables export through traitortrack/spreadsheets.py, which escapes formulas itself; this covers the
# admin exports django-import-export makes (bills, products, areas, users).
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True

# --- Audit log: client IPs and e-mail addresses are stored anonymised (audit.services.record).
ANONYMIZE_AUDIT_LOGS = env_bool("ANONYMIZE_AUDIT_LOGS", True)

# --- E-mail
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "traitortrack@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The address people open the site at, for the links in mails no request is behind (the daily summary,
# reports/summary.py): scheme and host, no trailing slash.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Internationalisation (README "Hindi and English"). English unless the user chose otherwise
# (User.language), the language cookie says so (the switch, before logging in) or the browser asks for Hindi.
LANGUAGE_CODE = "en"
# Each name in its own language: the switch must be readable by someone who cannot read the other one.
LANGUAGES = [("en", "English"), ("hi", "हिन्दी")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Indian grouping (12,34,567) and day-first dates for both languages (Django's own en and hi say neither).
FORMAT_MODULE_PATH = ["traitortrack.formats"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Kolkata")
USE_I18N = True
USE_TZ = True

# --- Static files: served by whitenoise, all local (warehouses lose the internet).
STATIC_URL = "static/"
# Where collectstatic puts them, and whitenoise serves them from (with their manifest, which every page needs).
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"}},
    # An outage (Redis, or PostgreSQL for the pool): its first failure whole, then a summary every 30 s
    # (traitortrack/logs.py).
    "filters": {"outage": {"()": "traitortrack.logs.OutageFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "traitortrack.cache": {"filters": ["outage"]},
        "accounts.ratelimits": {"filters": ["outage"]},
        # The pool's INFO lines are two per request ("connection requested", "given"); its warnings are one
        # per failed connection attempt while PostgreSQL is away: an outage, logged as one.
        "psycopg.pool": {"level": "WARNING", "filters": ["outage"]},
        "django.db.backends": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
        # Its set-up lines (tasks registered) come with every manage.py command; the worker's job lines stay.
        "procrastinate.blueprints": {"level": "WARNING"},
        "procrastinate.periodic": {"level": "WARNING"},
    },
}
