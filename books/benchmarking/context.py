"""Everything a bench run sets up, and undoes at the end: checks, the fake provider, worker processes,
in-process settings, a bench user with its books, a scratch folder, the bench's Redis database."""

import logging
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings

from books.benchmarking.config import BenchConfig
from books.benchmarking.errors import BenchError
from books.benchmarking.fake_provider import API_KEY, MODEL, FakeProvider, ImagePool
from books.benchmarking.workers import WorkerPool, database_url
from books.models import BookJob
from books.services import render_pdfs

BENCH_USERNAME = "bookstudio-bench"


def _redis():
    import django_rq

    return django_rq.get_connection("default")


def _queue():
    import django_rq

    return django_rq.get_queue("default")


class BenchContext:
    def __init__(self, config: BenchConfig, *, log: Callable[[str], None]):
        self.config = config
        self.log = log
        self.notes: list[str] = []
        self.pool: WorkerPool | None = None
        self.provider: FakeProvider | None = None
        self.reference_book: BookJob | None = None  # a completed N-page book, for scenario 3
        self._pdf_seconds: dict[int, float] = {}
        self._secret_key = secrets.token_urlsafe(40)
        self._settings = None
        self.user = None

    # ------------------------------------------------------------ setting up and tearing down

    def __enter__(self) -> "BenchContext":
        self._check_database()
        self._check_redis()
        self.folder = Path(tempfile.mkdtemp(prefix="bookstudio-bench-"))
        self.media = self.folder / "media"
        self.logs = self.folder / "logs"
        self.logs.mkdir(parents=True)
        try:
            _redis().flushdb()
            self.log("Drawing the fake provider's pictures (768x1024 PNGs)...")
            self.provider = FakeProvider(ImagePool()).start()
            self._settings = override_settings(
                IMAGE_PROVIDER="openrouter",
                OPENROUTER_BASE_URL=self.provider.url,
                OPENROUTER_API_KEY=API_KEY,
                IMAGE_MODEL=MODEL,
                IMAGE_CONCURRENCY=self.config.concurrency,
                IMAGE_FAULT_RATE=0.0,
                RATE_LIMIT_BOOKS_PER_HOUR=0,  # the bench makes far more books than a person may
                RATE_LIMIT_REGENERATIONS_PER_HOUR=0,
                MEDIA_ROOT=self.media,
                STORAGES={
                    **settings.STORAGES,
                    "default": {
                        "BACKEND": "django.core.files.storage.FileSystemStorage",
                        "OPTIONS": {"location": str(self.media)},
                    },
                },
            )
            self._settings.enable()
            self._log_level = logging.getLogger("bookstudio").level
            logging.getLogger("bookstudio").setLevel(logging.WARNING)  # not a line per book made
            self.user = self._bench_user()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        steps = [
            self.stop_workers,
            self._stop_provider,
            self._delete_bench_rows,
            self._flush_redis,
            self._restore_settings,
        ]
        for step in steps:
            try:
                step()
            except Exception as exc:  # clean up the rest; report what could not be undone
                self.log(f"Cleanup step {step.__name__} failed: {exc}")
        shutil.rmtree(getattr(self, "folder", ""), ignore_errors=True)

    def _check_database(self) -> None:
        try:
            connection.ensure_connection()
        except Exception as exc:
            raise BenchError(f"Cannot reach the database ({exc}). Set DATABASE_URL.") from exc
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise BenchError("The database has unapplied migrations: run `manage.py migrate` first.")
        if connection.vendor == "sqlite":
            note = (
                "SQLite: the worker processes take turns on one database file, so multi-worker timings "
                "are pessimistic; the documented run uses PostgreSQL (DATABASE_URL)."
            )
            self.notes.append(note)
            self.log(f"WARNING: {note}")

    def _check_redis(self) -> None:
        from rq import Worker

        redis = _redis()
        try:
            redis.ping()
        except Exception as exc:
            raise BenchError(f"Cannot reach Redis at {settings.REDIS_URL} ({exc}). Start it or set REDIS_URL.") from exc
        db = redis.connection_pool.connection_kwargs.get("db", 0)
        if int(db) == 0 and not self.config.flush_redis:
            raise BenchError(
                "The bench empties its Redis database and REDIS_URL points at db 0. Point it at a spare "
                "database (e.g. redis://127.0.0.1:6379/3) or pass --flush-redis."
            )
        others = Worker.count(connection=redis)
        if others:
            raise BenchError(
                f"{others} RQ worker(s) already use Redis db {db}; they would take the bench's jobs. Stop them or "
                "use another database (registrations of killed workers expire within 7 minutes)."
            )

    def _bench_user(self):
        user, _ = get_user_model().objects.get_or_create(username=BENCH_USERNAME)
        user.set_unusable_password()
        user.save()
        BookJob.objects.filter(owner=user).delete()  # left by an interrupted run
        return user

    def _stop_provider(self) -> None:
        if self.provider is not None:
            self.provider.stop()

    def _delete_bench_rows(self) -> None:
        if self.user is not None:
            BookJob.objects.filter(owner=self.user).delete()
            self.user.delete()

    def _flush_redis(self) -> None:
        _redis().flushdb()

    def _restore_settings(self) -> None:
        if self._settings is not None:
            self._settings.disable()
            logging.getLogger("bookstudio").setLevel(self._log_level)

    # ------------------------------------------------------------ workers

    def worker_env(self, **overrides: object) -> dict[str, str]:
        assert self.provider is not None
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "MEDIA_ROOT": str(self.media),
            "AWS_STORAGE_BUCKET_NAME": "",
            "IMAGE_PROVIDER": "openrouter",
            "OPENROUTER_BASE_URL": self.provider.url,
            "OPENROUTER_API_KEY": API_KEY,
            "IMAGE_MODEL": MODEL,
            "IMAGE_CONCURRENCY": str(self.config.concurrency),
            "IMAGE_FAULT_RATE": "0",
            "IMAGE_MAX_CONCURRENT_CALLS": "0",
            "DEBUG": "false",  # as in production: no query log, no debug overhead
            "SECRET_KEY": self._secret_key,
            "LOG_LEVEL": "WARNING",
        }
        env.update({key: str(value) for key, value in overrides.items()})
        return env

    def use_workers(self, count: int, *, measure_rss: bool = False, **overrides: object) -> WorkerPool:
        """``count`` workers with these settings, reusing the running ones when they match."""
        env = self.worker_env(**overrides)
        if not measure_rss and self.pool is not None and self.pool.same_as(count=count, env=env):
            return self.pool
        self.stop_workers()
        self.log(f"  starting {count} worker process(es)" + (f" with {overrides}" if overrides else ""))
        self.pool = WorkerPool(count=count, env=env, log_dir=self.logs, measure_rss=measure_rss)
        return self.pool.start()

    def stop_workers(self) -> None:
        if self.pool is not None:
            self.pool.stop()
            self.pool = None

    def settle(self, *, timeout: float = 60) -> None:
        """Before a measurement: let leftover jobs of finished books end, and start with a clean slate.

        Left over are draw jobs that found their book already done; they would take worker time
        from the next measurement.
        """
        from rq.registry import StartedJobRegistry

        queue = _queue()
        deadline = time.monotonic() + timeout
        if self.pool is not None and self.pool.alive():
            while queue.count or StartedJobRegistry(queue=queue).count:
                if time.monotonic() > deadline:
                    raise BenchError(f"The queue did not drain within {timeout:.0f} s.\n{self.pool.log_tail()}")
                time.sleep(0.05)
        queue.empty()
        for key in _redis().scan_iter("bookstudio:*"):  # retry budget, call slots, rate counters
            _redis().delete(key)

    # ------------------------------------------------------------ shared measurements

    def pdf_seconds(self, book: BookJob) -> float:
        """Time of books.services.render_pdfs (both PDFs) for a book of this size: best of 3, warm."""
        key = len(book.pages)
        if key not in self._pdf_seconds:
            render_pdfs(book)  # warm-up: the first render in a process also loads fonts and templates
            self._pdf_seconds[key] = best_time(lambda: render_pdfs(book), runs=3)
        return self._pdf_seconds[key]


def best_time(call: Callable[[], object], *, runs: int) -> float:
    """The fastest of a few runs: the one least disturbed by whatever else the machine was doing."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)
