"""``manage.py benchretries``: does the retry policy deliver the call counts and failure share it should?

With a fault rate p and a attempts per image, every call fails on its own with chance p, so an
image makes 1 + p + ... + p^(a-1) calls on average and still fails with chance p^a (1.39 calls
and 2.7 % at p = 0.3, a = 3). Two scenarios measure both numbers:

1. The real RetryPolicy and FaultInjectingProvider around an in-memory provider, many images,
   the sleep replaced by a no-op (only the counts matter here, never the clock).
2. Real books: create_book, an in-process burst RQ worker, the local illustrator wrapped by
   IMAGE_FAULT_RATE, the shared retry budget as configured, figures read back from ImageAttempt.

No timing is asserted; the run prints a table (and writes JSON with --json).
"""

import json
import logging
import math
import random
import secrets
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count
from django.test import override_settings

from images.providers import Picture
from images.providers.faults import FaultInjectingProvider
from images.retry import RetriesExhausted, RetryPolicy

BENCH_USERNAME = "bookstudio-benchretries"


@dataclass(frozen=True)
class Figures:
    scenario: str
    images: int
    fault_rate: float
    attempts: int
    calls: int
    failed: int
    waited_seconds: float | None = None  # backoff the policy asked for (scenario 1 only)

    @property
    def calls_per_image(self) -> float:
        return self.calls / self.images

    @property
    def failed_share(self) -> float:
        return self.failed / self.images

    @property
    def expected_calls_per_image(self) -> float:
        return sum(self.fault_rate**k for k in range(self.attempts))

    @property
    def expected_failed_share(self) -> float:
        return self.fault_rate**self.attempts

    @property
    def calls_per_image_margin(self) -> float:
        """Half-width of the 95 % range the measured calls per image fall in by chance alone."""
        p, a = self.fault_rate, self.attempts
        odds = [p ** (k - 1) * (1 - p) for k in range(1, a)] + [p ** (a - 1)]  # chance of exactly k calls
        mean = sum(k * q for k, q in enumerate(odds, start=1))
        variance = sum((k - mean) ** 2 * q for k, q in enumerate(odds, start=1))
        return 1.96 * math.sqrt(variance / self.images)

    @property
    def failed_share_margin(self) -> float:
        """Half-width of the 95 % range the measured share falls in by chance alone."""
        q = self.expected_failed_share
        return 1.96 * math.sqrt(q * (1 - q) / self.images)

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "calls_per_image": round(self.calls_per_image, 4),
            "expected_calls_per_image": round(self.expected_calls_per_image, 4),
            "calls_per_image_margin_95": round(self.calls_per_image_margin, 4),
            "failed_share": round(self.failed_share, 5),
            "expected_failed_share": round(self.expected_failed_share, 5),
            "failed_share_margin_95": round(self.failed_share_margin, 5),
        }


class InstantProvider:
    """A provider that always answers at once; the fault wrapper supplies the failures."""

    name = "bench-instant"
    model = "bench/instant"

    def generate(self, prompt: str) -> Picture:
        return Picture(data=b"", model=self.model)


def in_memory_run(*, images: int, fault_rate: float, attempts: int, seed: int) -> Figures:
    waits: list[float] = []
    policy = RetryPolicy.from_settings(attempts=attempts, sleep=waits.append, rng=random.Random(seed))
    provider = FaultInjectingProvider(InstantProvider(), rate=fault_rate, rng=random.Random(seed + 1))
    calls = failed = 0

    def count(report) -> None:
        nonlocal calls
        calls += 1

    for number in range(images):
        try:
            policy.call(lambda _attempt, n=number: provider.generate(f"page {n}"), on_attempt=count)
        except RetriesExhausted:
            failed += 1
    return Figures("in-memory provider", images, fault_rate, attempts, calls, failed, round(sum(waits), 3))


# ---------------------------------------------------------------- scenario 2: real books


class _BurstWorker:
    """RQ's SimpleWorker without its command channel, whose teardown can stall for 60 s (rq 3 + redis-py 8.2)."""

    @staticmethod
    def drain(queue, *, max_seconds: float) -> None:
        from rq import SimpleWorker

        class Worker(SimpleWorker):
            def subscribe(self) -> None:
                pass

        deadline = time.monotonic() + max_seconds
        while time.monotonic() < deadline:
            Worker([queue], connection=queue.connection).work(burst=True, logging_level="WARNING")
            if queue.count == 0:
                return
        raise CommandError(f"The queue did not drain within {max_seconds:.0f} s.")


def _check_book_prerequisites() -> None:
    """Scenario 2 writes books to the configured database and runs jobs from the default queue."""
    import django_rq
    from rq import Worker

    try:
        connection.ensure_connection()
    except Exception as exc:
        raise CommandError(f"Cannot reach the database ({exc}). Set DATABASE_URL, or pass --books 0.") from exc
    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise CommandError("The database has unapplied migrations: run `manage.py migrate`, or pass --books 0.")
    redis = django_rq.get_connection("default")
    try:
        redis.ping()
    except Exception as exc:
        raise CommandError(
            f"Cannot reach Redis at {settings.REDIS_URL} ({exc}). Start it (manage.py runstudio) or set REDIS_URL, "
            "or pass --books 0."
        ) from exc
    # Other workers would take the bench's jobs with their own settings (no injected faults), and
    # the bench's worker would run other people's waiting jobs with injected faults.
    workers = Worker.count(connection=redis)
    if workers:
        raise CommandError(f"{workers} RQ worker(s) use this Redis; stop them or point REDIS_URL at a spare database.")
    waiting = django_rq.get_queue("default").count
    if waiting:
        raise CommandError(
            f"{waiting} job(s) wait in the default queue; let them finish or use a spare Redis database."
        )


def _forget_jobs(queue, *, prefixes: list[str]) -> int:
    """Delete the bench's finished and failed RQ jobs (their books are deleted too); count the failed."""
    from rq.job import Job
    from rq.registry import FailedJobRegistry, FinishedJobRegistry

    crashed = 0
    for registry in (FinishedJobRegistry(queue=queue), FailedJobRegistry(queue=queue)):
        for job_id in registry.get_job_ids():
            if job_id.startswith(tuple(prefixes)):
                crashed += isinstance(registry, FailedJobRegistry)
                Job.fetch(job_id, connection=queue.connection).delete()
    return crashed


def books_run(*, books: int, pages: int, fault_rate: float, attempts: int, backoff: float) -> tuple[Figures, dict]:
    import django_rq

    from books.models import BookJob, BookStatus
    from books.services import create_book
    from images.models import GeneratedImage, ImageAttempt, ImageStatus
    from images.providers import get_provider
    from images.throttle import RetryBudget

    _check_book_prerequisites()
    media = Path(tempfile.mkdtemp(prefix="bookstudio-benchretries-"))
    overrides = override_settings(
        IMAGE_PROVIDER="local",
        IMAGE_FAULT_RATE=fault_rate,
        IMAGE_RETRY_ATTEMPTS=attempts,
        IMAGE_RETRY_BACKOFF=backoff,  # the waits are not what is measured; keep the run short
        RATE_LIMIT_BOOKS_PER_HOUR=0,
        MEDIA_ROOT=media,
        STORAGES={
            **settings.STORAGES,
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(media)}},
        },
    )
    owner, _ = get_user_model().objects.get_or_create(username=BENCH_USERNAME)
    try:
        with overrides:
            provider = get_provider()
            budget = RetryBudget.for_provider(f"{provider.name}:{provider.model}")
            if budget is not None:
                budget.reset()  # start full, whatever earlier runs left behind
            tag = secrets.token_hex(4)  # new prompts, so the prompt cache never answers for the provider
            made = [
                create_book(
                    owner=owner,
                    title=f"Retry bench {tag} book {b + 1}",
                    pages=[f"Bench {tag}: book {b + 1}, page {p + 1}, the fox ran on." for p in range(pages)],
                    source="bench",
                )
                for b in range(books)
            ]
            _BurstWorker.drain(django_rq.get_queue("default"), max_seconds=600 + 10 * books * pages)
            ids = [book.pk for book in made]
            statuses = dict(BookJob.objects.filter(pk__in=ids).values_list("status").annotate(n=Count("pk")).order_by())
            images = GeneratedImage.objects.filter(book_id__in=ids)
            figures = Figures(
                f"{books} real books end-to-end",
                images.count(),
                fault_rate,
                attempts,
                ImageAttempt.objects.filter(image__book_id__in=ids).count(),
                images.filter(status=ImageStatus.FAILED).count(),
            )
            extra = {
                "crashed_jobs": _forget_jobs(django_rq.get_queue("default"), prefixes=[f"book-{pk}-" for pk in ids]),
                "books_completed": statuses.get(BookStatus.COMPLETED, 0),
                "books": books,
                "retry_budget": "off" if budget is None else f"{budget.max_tokens:g} tokens, ratio {budget.ratio:g}",
                "backoff_seconds": backoff,
            }
            return figures, extra
    finally:
        BookJob.objects.filter(owner=owner).delete()
        owner.delete()
        shutil.rmtree(media, ignore_errors=True)


# ---------------------------------------------------------------- the door


def _table(rows: list[Figures]) -> str:
    header = (
        "scenario",
        "images",
        "fault rate",
        "calls/image",
        "expected",
        "chance",
        "pages failed",
        "expected",
        "chance",
    )
    lines = [
        (
            f.scenario,
            str(f.images),
            f"{f.fault_rate:.2f}",
            f"{f.calls_per_image:.3f}",
            f"{f.expected_calls_per_image:.3f}",
            f"±{f.calls_per_image_margin:.3f}",
            f"{f.failed_share:.2%}",
            f"{f.expected_failed_share:.2%}",
            f"±{f.failed_share_margin:.2%}",
        )
        for f in rows
    ]
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]

    def fmt(row):
        return "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )

    return "\n".join([fmt(header), fmt(tuple("-" * w for w in widths)), *map(fmt, lines)])


class Command(BaseCommand):
    help = "Measure calls per image and the share of pages still failed under injected provider faults."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--images", type=int, default=2000, help="Images of the in-memory scenario.")
        parser.add_argument("--fault-rate", type=float, default=0.3, help="Share of calls that fail (0 to <1).")
        parser.add_argument("--attempts", type=int, default=None, help="Default: IMAGE_RETRY_ATTEMPTS.")
        parser.add_argument("--books", type=int, default=5, help="Real books of scenario 2 (0 skips it).")
        parser.add_argument("--pages", type=int, default=10, help="Content pages per book (plus cover and end).")
        parser.add_argument("--backoff", type=float, default=0.001, help="IMAGE_RETRY_BACKOFF for the real books.")
        parser.add_argument("--seed", type=int, default=None, help="Seed of scenario 1 (default: random, printed).")
        parser.add_argument("--json", type=Path, default=None, help="Also write the figures to this file.")

    def handle(self, *args, **options) -> None:
        fault_rate, images, books, pages = options["fault_rate"], options["images"], options["books"], options["pages"]
        attempts = options["attempts"] if options["attempts"] is not None else max(1, settings.IMAGE_RETRY_ATTEMPTS)
        if not 0 <= fault_rate < 1:
            raise CommandError("--fault-rate must be at least 0 and below 1.")
        if images < 1 or books < 0 or pages < 1 or attempts < 1 or options["backoff"] < 0:
            raise CommandError("--images, --pages and --attempts must be at least 1; --books and --backoff at least 0.")
        seed = options["seed"] if options["seed"] is not None else random.SystemRandom().randrange(1_000_000)

        rows = [in_memory_run(images=images, fault_rate=fault_rate, attempts=attempts, seed=seed)]
        extra: dict = {}
        if books:
            self.stderr.write(f"Making {books} book(s) of {pages + 2} illustrated pages with a burst worker...")
            started = time.monotonic()
            quiet = logging.getLogger("bookstudio")
            level = quiet.level
            if options["verbosity"] < 2:  # a warning per injected fault would bury the table
                quiet.setLevel(logging.ERROR)
            try:
                figures, extra = books_run(
                    books=books, pages=pages, fault_rate=fault_rate, attempts=attempts, backoff=options["backoff"]
                )
            finally:
                quiet.setLevel(level)
            extra["seconds"] = round(time.monotonic() - started, 1)
            rows.append(figures)

        self.stdout.write(f"Retry policy under injected faults: p = {fault_rate:g}, {attempts} attempts per image")
        self.stdout.write(
            f"expected calls/image = 1 + p + ... + p^{attempts - 1}; expected pages failed = p^{attempts}"
        )
        self.stdout.write("")
        self.stdout.write(_table(rows))
        self.stdout.write("chance: the 95 % range around the expected value that sampling alone explains.")
        self.stdout.write("")
        first = rows[0]
        self.stdout.write(
            f"In-memory: seed {seed}; backoff the policy asked for {first.waited_seconds:g} s in all "
            f"(not slept: a no-op clock)."
        )
        if extra.get("crashed_jobs"):
            self.stderr.write(
                f"WARNING: {extra['crashed_jobs']} RQ job(s) of the bench crashed: a bug, not a fault drill."
            )
        if extra:
            self.stdout.write(
                f"Books: {extra['books_completed']} of {extra['books']} completed in {extra['seconds']} s "
                f"(database {connection.vendor}); retry budget {extra['retry_budget']}; "
                f"backoff {extra['backoff_seconds']:g} s. Few images: expect a wide spread."
            )
        if options["json"]:
            document = {"seed": seed, "scenarios": [row.as_dict() for row in rows], "books": extra}
            options["json"].write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
            self.stdout.write(f"Wrote {options['json']}")
