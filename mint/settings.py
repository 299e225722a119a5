"""Settings, read from the environment (and an optional git-ignored `.env` file).

With nothing configured the project runs on its embedded defaults: SQLite in `var/`,
a file-based cache, django-q2 on the ORM broker and email written to `var/mail/`.
Production sets DATABASE_URL, REDIS_URL, EMAIL_URL, SECRET_KEY, CREDENTIALS_KEYS and
ALLOWED_HOSTS; see `.env.example`.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # real environment variables win

DEBUG = env.bool("DEBUG", default=False)
# Demo mode: the demo user and the loopback demo bank are allowed. Never on in production.
DEMO_MODE = env.bool("DEMO_MODE", default=DEBUG)


def _local_secret(name: str, generate) -> str:
    """A development secret kept in a git-ignored file, created on first use."""
    path = VAR_DIR / "secrets" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(generate())
    return path.read_text().strip()


def _new_secret_key() -> str:
    from django.core.management.utils import get_random_secret_key

    return get_random_secret_key()


def _new_fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is not set. Set it in the environment (or DEBUG=1 for development).")
    SECRET_KEY = _local_secret("secret_key", _new_secret_key)

# Fernet keys for bank credentials, newest first; older keys still decrypt (rotation).
CREDENTIALS_KEYS = env.list("CREDENTIALS_KEYS", default=[])
if not CREDENTIALS_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "CREDENTIALS_KEYS is not set. Generate a key with "
            '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"` '
            "and set CREDENTIALS_KEYS=<key> (comma-separated, newest first, when rotating)."
        )
    CREDENTIALS_KEYS = [_local_secret("credentials_key", _new_fernet_key)]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "whitenoise.runserver_nostatic",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from here: no CDN
    "django_q",
    "mint",
    "accounts",
    "categories",
    "transactions",
    "budgets",
    "notifications",
    "security",
    "django_otp",
    "django_otp.plugins.otp_totp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "mint.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "mint.middleware.DatabaseUnavailableMiddleware",
    "mint.middleware.UserActivityMiddleware",
]

ROOT_URLCONF = "mint.urls"
WSGI_APPLICATION = "mint.wsgi.application"
ASGI_APPLICATION = "mint.asgi.application"

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
                "notifications.context_processors.unread_notifications",
            ],
        },
    },
]

# Database: PostgreSQL through DATABASE_URL, else an SQLite file in var/.
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the task workers are separate processes sharing one file:
    # WAL lets readers run beside a writer, IMMEDIATE takes the write lock up front
    # (no lock-upgrade deadlocks), and the timeout waits out the other writer.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    # A new connection per request costs ~10x the request itself; keep them open.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Read replicas (PostgreSQL streaming replicas), comma-separated URLs: `replica_0`, `replica_1`...
# Only the read path marked for them uses them (mint.db_router); unset, there is one database.
DATABASE_REPLICAS: list[str] = []
for _n, _url in enumerate(env.list("DATABASE_REPLICA_URLS", default=[])):
    _replica = env.db_url_config(_url)
    if _replica["ENGINE"] != DATABASES["default"]["ENGINE"] or "sqlite" in _replica["ENGINE"]:
        raise ImproperlyConfigured("DATABASE_REPLICA_URLS needs PostgreSQL, for DATABASE_URL and every replica.")
    _replica.update(CONN_MAX_AGE=DATABASES["default"]["CONN_MAX_AGE"], CONN_HEALTH_CHECKS=True)
    DATABASES[f"replica_{_n}"] = _replica
    DATABASE_REPLICAS.append(f"replica_{_n}")
if DATABASE_REPLICAS:
    DATABASE_ROUTERS = ["mint.db_router.ReplicaRouter"]
    MIDDLEWARE.append("mint.db_router.ReplicaReadYourWritesMiddleware")  # after auth: marks the writer
# After a user writes, their read path stays on the primary until a replica has replayed the
# write, checked for this long at most (a replica further behind is read as caught up).
REPLICA_READ_YOUR_WRITES_SECONDS = env.int("REPLICA_READ_YOUR_WRITES_SECONDS", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache and serving store. Redis through REDIS_URL; a dead Redis must not fail a request,
# so errors are swallowed (the caller falls back to the database) with short timeouts.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "mint",
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "mint.cache"
else:
    # Not local-memory: the web server and the worker cluster are separate processes, and
    # the worker that commits an import must be able to invalidate what the web server serves.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": VAR_DIR / "cache",
        }
    }

# Email: EMAIL_URL (smtp+tls://user:pass@host:587), else one file per message in var/mail/.
vars().update(env.email_url("EMAIL_URL", default=f"filemail://{VAR_DIR / 'mail'}"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Mint <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where the site is reached, for links in emails (unsubscribe).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
NOTIFICATION_DIGEST_HOUR = env.int("NOTIFICATION_DIGEST_HOUR", default=8)  # local hour the daily digest goes out

AUTH_USER_MODEL = "mint.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "media"},
    },
    # The object store for raw bank payloads (DESIGN.md: S3-compatible in production).
    "raw_payloads": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": env.str("RAW_PAYLOADS_DIR", default=str(VAR_DIR / "raw"))},
    },
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage",
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "security.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "mint.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_SCHEMA_CLASS": "mint.schema.AutoSchema",
    "DEFAULT_METADATA_CLASS": "mint.metadata.ApiMetadata",
}

# The OpenAPI schema (/api/v1/schema/) and its browsable docs (/api/v1/docs/), both public: they
# describe the API, never anyone's data. Swagger UI's files come from drf-spectacular-sidecar
# through whitenoise, so the docs page needs no CDN and keeps the strict Content-Security-Policy.
SPECTACULAR_SETTINGS = {
    "TITLE": "Mint API",
    "DESCRIPTION": "Linked accounts, transactions, budgets and alerts. "
    "Authenticate with `Authorization: Token <key>` (POST /api/v1/auth/token/).",
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    # `/api/v1/accounts.json` and the like: the same operations as without the suffix.
    "PREPROCESSING_HOOKS": ["drf_spectacular.hooks.preprocess_exclude_path_format"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `kind`: name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "AccountKindEnum": "accounts.models.Account.Kind",
        "CategoryKindEnum": "categories.models.Category.Kind",
    },
}

# Tasks: django-q2 on the ORM broker, which redelivers a task whose worker died
# (at least once); `retry` must exceed `timeout` or a slow task runs twice at once.
TASKS_SYNC = env.bool("TASKS_SYNC", default=False)
Q_CLUSTER = {
    "name": "mint",
    "orm": "default",
    "workers": env.int("TASK_WORKERS", default=2),
    "timeout": env.int("TASK_TIMEOUT", default=300),
    "retry": env.int("TASK_RETRY", default=360),
    "max_attempts": 5,
    "poll": 0.5,
    "catch_up": False,
    "save_limit": 1000,
    "sync": TASKS_SYNC,
    "label": "Tasks",
}

# Ingestion
SYNC_INITIAL_DAYS = env.int("SYNC_INITIAL_DAYS", default=90)  # history fetched on first link
SYNC_OVERLAP_DAYS = env.int("SYNC_OVERLAP_DAYS", default=7)  # re-fetched for late postings
SYNC_MAX_ATTEMPTS = 3  # starts of one sync job that may end without finishing before it is given up
# A bank that cannot be reached is tried again after these many seconds, then the job fails.
SYNC_RETRY_DELAYS = [60, 5 * 60, 30 * 60]
SYNC_JOB_STUCK_MINUTES = 30  # a job nothing started for this long lost its task: queue it again
SYNC_MANUAL_MIN_SECONDS = env.int("SYNC_MANUAL_MIN_SECONDS", default=60)  # between manual refreshes
# The daily refresh: connections of users seen in the last SYNC_ACTIVE_DAYS, queued a slice at a
# time over a window that opens at SYNC_DAILY_AT (site time zone), so banks and workers see an
# even load instead of every job at once.
SYNC_DAILY_AT = env.str("SYNC_DAILY_AT", default="02:00")
SYNC_DAILY_WINDOW_MINUTES = env.int("SYNC_DAILY_WINDOW_MINUTES", default=4 * 60)
SYNC_DAILY_TICK_MINUTES = 10
SYNC_ACTIVE_DAYS = 30
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=10 * 1024 * 1024)  # uploaded statement files
PROVIDER_TIMEOUT = env.float("PROVIDER_TIMEOUT", default=30.0)
PROVIDER_MAX_RESPONSE_BYTES = env.int("PROVIDER_MAX_RESPONSE_BYTES", default=20 * 1024 * 1024)

# Crowd consensus: a merchant outside the curated map takes the category at least this many
# distinct users chose, if it is also this share of everyone who chose one.
CROWD_MIN_VOTERS = env.int("CROWD_MIN_VOTERS", default=3)
CROWD_MIN_SHARE = env.float("CROWD_MIN_SHARE", default=0.6)

# Budgets: alert levels as a share of the budget, in percent.
BUDGET_ALERT_LEVELS = {"approaching": 80, "exceeded": 100}
# The widget's cache: every commit refreshes the months it changed, so the timeout only bounds
# a refresh that was lost (the cache unreachable at that moment). The last known copy answers,
# marked stale, while the database is down.
SPENDING_CACHE_TIMEOUT = env.int("SPENDING_CACHE_TIMEOUT", default=300)
SPENDING_LAST_KNOWN_TIMEOUT = env.int("SPENDING_LAST_KNOWN_TIMEOUT", default=7 * 24 * 3600)
AUTH_TOKEN_CACHE_TIMEOUT = env.int("AUTH_TOKEN_CACHE_TIMEOUT", default=300)

# Sign-in limits (security app). Failed password or two-factor code attempts are counted in the
# database per account and per client address (an IPv6 address by its /64), in fixed windows:
# past the limit, sign-in is refused until the window ends. A password reset clears the
# account's count, so the real user is never locked out by someone else's guessing.
LOGIN_ACCOUNT_MAX_FAILURES = env.int("LOGIN_ACCOUNT_MAX_FAILURES", default=100)
LOGIN_ACCOUNT_WINDOW_SECONDS = env.int("LOGIN_ACCOUNT_WINDOW_SECONDS", default=3600)
LOGIN_IP_MAX_FAILURES = env.int("LOGIN_IP_MAX_FAILURES", default=50)
LOGIN_IP_WINDOW_SECONDS = env.int("LOGIN_IP_WINDOW_SECONDS", default=15 * 60)
# Proxies in front that append to X-Forwarded-For (0: clients connect directly). Sign-in limits
# and the audit log count the address that many hops from the right (security.services.client_ip).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
LOGIN_CODE_STEP_SECONDS = 5 * 60  # time to type the two-factor code once the password was right
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Mint")  # the name authenticator apps show
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # staff must not see, or copy, a user's TOTP key

# Demo bank (demo mode only): the loopback OFX server `make run` starts.
DEMO_BANK_PORT = env.int("DEMO_BANK_PORT", default=8765)
DEMO_SIMPLEFIN_PORT = env.int("DEMO_SIMPLEFIN_PORT", default=8766)  # the demo SimpleFIN Bridge

# Production hardening; each can be turned off behind a TLS-terminating proxy that does it.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"once_a_minute": {"()": "mint.logging.OncePerIntervalFilter", "interval": 60}},
    # One record per line: messages carry bank text, and a CR/LF in it must not forge a record.
    "formatters": {
        "plain": {
            "()": "mint.logging.SingleLineFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # A dead Redis or database would otherwise log on every request.
        **{
            name: {"handlers": ["console"], "level": "WARNING", "filters": ["once_a_minute"], "propagate": False}
            for name in ("mint.cache", "mint.fallback")
        },
        "django-q": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        # ofxtools logs whole OFX requests, password included, at DEBUG: never below WARNING.
        "ofxtools": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
