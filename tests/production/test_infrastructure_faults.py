"""Infrastructure faults while a worker process makes a book: Redis restarts empty, PostgreSQL is
unreachable for a moment. The book either carries on or fails with a readable error, recovery plus
a retry finishes it, and no BookPdf row ever points at a half-written PDF.

Only infrastructure of the test's own is broken: a private redis-server, and a TCP proxy between
the worker and the shared PostgreSQL (the shared servers themselves are never restarted)."""

import shutil
import time
from collections import Counter

import pytest
from django.db import connection

from books.services import create_book
from images.models import GeneratedImage, ImageStatus
from tests.production.helpers import (
    assert_fully_illustrated,
    assert_readable,
    drive_to_completion,
    provider_env,
    wait_for,
    worker_logs,
    worker_processes,
)
from tests.production.infra import RedisServer, TcpProxy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def pages(n: int) -> list[str]:
    return [f"Step {p}: the keeper climbs to the lamp and counts {p + 3} gulls over the sea." for p in range(n)]


@pytest.fixture
def own_redis(settings):
    """A Redis server for this test alone, used by the test process and its workers."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    server = RedisServer().start()
    settings.REDIS_URL = server.url
    settings.RQ_QUEUES = {"default": {**settings.RQ_QUEUES["default"], "URL": server.url}}
    yield server
    server.stop()


def test_redis_restarting_empty_mid_book(user, own_redis, fake_openrouter, settings, tmp_path):
    settings.IMAGE_LEASE_SECONDS = 2
    fake_openrouter.latency = 0.3
    env = {**provider_env(fake_openrouter), "IMAGE_LEASE_SECONDS": "2"}
    with worker_processes(1, env=env, log_dir=tmp_path) as workers:
        book = create_book(owner=user, title="The Lighthouse Keeper", pages=pages(10))
        drawn = GeneratedImage.objects.filter(book=book, status=ImageStatus.COMPLETED)
        wait_for(lambda: drawn.count() >= 2, timeout=30, what=lambda: f"first pages\n{worker_logs(tmp_path)}")
        own_redis.restart(down_for=1.0)  # queued jobs, registries and worker records are gone

        shown = drive_to_completion(book, user=user, timeout=60, supervise=workers)

    assert_readable(shown)
    assert_fully_illustrated(book)
    # The retry budget lives in Redis; its outage must not throw away images already paid for.
    calls = Counter(call.prompt for call in fake_openrouter.calls)
    assert set(calls.values()) == {1}, sorted(calls.values())


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="A PostgreSQL blip is a cut network connection; SQLite has no connection to cut (CI runs PostgreSQL).",
)
def test_postgresql_unreachable_for_a_moment(user, fake_openrouter, settings, tmp_path):
    settings.IMAGE_LEASE_SECONDS = 2
    fake_openrouter.latency = 0.3
    db = connection.settings_dict
    proxy = TcpProxy(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    env = {
        **provider_env(fake_openrouter),
        "IMAGE_LEASE_SECONDS": "2",
        "DATABASE_URL": f"postgres://{db['USER']}{password}@127.0.0.1:{proxy.port}/{db['NAME']}",
    }
    try:
        with worker_processes(1, env=env, log_dir=tmp_path) as workers:
            book = create_book(owner=user, title="The Keeper's Long Night", pages=pages(10))
            drawn = GeneratedImage.objects.filter(book=book, status=ImageStatus.COMPLETED)
            wait_for(lambda: drawn.count() >= 2, timeout=30, what=lambda: f"first pages\n{worker_logs(tmp_path)}")
            proxy.cut()  # the worker loses its database connections and cannot open new ones
            time.sleep(1.5)
            proxy.restore()

            shown = drive_to_completion(book, user=user, timeout=60, supervise=workers)
    finally:
        proxy.close()

    assert_readable(shown)
    assert_fully_illustrated(book)
