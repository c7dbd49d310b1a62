"""Shared fixtures. Tests talk to real PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set
(CI sets both), else to SQLite and an embedded Redis (see tests/support/embedded_redis.py)."""

import shutil

import pytest


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    """Every test gets its own media folder, an empty Redis database and fast, quiet retries."""
    import django_rq

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
    }
    settings.IMAGE_RETRY_BACKOFF = 0.01
    settings.IMAGE_RETRY_MAX_BACKOFF = 2.0
    settings.IMAGE_PROVIDER = "local"
    settings.IMAGE_FAULT_RATE = 0.0
    # Generous limits so suites that make many books are not throttled; tests of the limits lower them.
    settings.RATE_LIMIT_BOOKS_PER_HOUR = 10_000
    settings.RATE_LIMIT_REGENERATIONS_PER_HOUR = 10_000
    django_rq.get_connection("default").flushdb()
    yield
    shutil.rmtree(tmp_path / "media", ignore_errors=True)


@pytest.fixture
def fake_openrouter(settings):
    """A fake OpenRouter server on 127.0.0.1, with the openrouter provider pointed at it."""
    from tests.support.fake_openrouter import FakeOpenRouter

    server = FakeOpenRouter().start()
    settings.IMAGE_PROVIDER = "openrouter"
    settings.OPENROUTER_BASE_URL = server.url
    settings.OPENROUTER_API_KEY = "sk-or-test-secret-key-0123456789"
    settings.IMAGE_MODEL = "fake/image-model"
    yield server
    server.stop()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="ada", password="pass-ada-123")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user(username="bob", password="pass-bob-123")


@pytest.fixture
def run_worker():
    """Drain the RQ queue with a real RQ worker in this process (burst mode)."""
    from tests.support.workers import run_burst_worker

    return run_burst_worker
