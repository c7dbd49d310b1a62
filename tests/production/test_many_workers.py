"""Many long-running worker processes (`manage.py rqworker`) share one image provider (the fake
OpenRouter server): every page is drawn exactly once, every book completes, and a worker killed
mid-book loses no page. The twenty-book run needs PostgreSQL; the kill runs on SQLite too."""

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import django_rq
import pytest
from django.db import connection
from rq import Worker

from books.models import BookJob, BookStatus
from books.services import RegenerationOutcome, create_book, recover_orphaned_books, start_regeneration
from images.models import AttemptOutcome, GeneratedImage, ImageAttempt, ImageStatus
from tests.production.helpers import (
    assert_fully_illustrated,
    describe,
    provider_env,
    settled,
    wait_for,
    worker_logs,
    worker_processes,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="Several worker processes writing at once need PostgreSQL (CI sets DATABASE_URL); "
    "SQLite serialises every write, which is not what production runs.",
)


def calls_begun_within(fake, seconds: float) -> int:
    since = time.time() - seconds
    return sum(1 for call in list(fake.calls) if call.at > since)


def story(n: int, pages: int = 4) -> list[str]:
    return [f"Page {p} of story {n}: the hedgehog counts {p * 7 + n} stars above the hill." for p in range(pages)]


@needs_postgresql
def test_four_workers_twenty_books_each_page_drawn_once(user, fake_openrouter, tmp_path):
    fake_openrouter.latency = 0.05
    with worker_processes(4, env=provider_env(fake_openrouter), log_dir=tmp_path):

        def make(n: int) -> str:
            try:  # titles differ, so every prompt is unique and no page comes from the cache
                return str(create_book(owner=user, title=f"Hedgehog Night {n:02d}", pages=story(n)).pk)
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=5) as pool:  # twenty requests at once, as from a busy web tier
            book_ids = list(pool.map(make, range(20)))

        wait_for(
            lambda: all(settled(book_id) for book_id in book_ids),
            timeout=90,
            every=0.5,
            what=lambda: f"20 books to finish\n{worker_logs(tmp_path)}",
        )
        done = [worker.successful_job_count for worker in Worker.all(connection=django_rq.get_connection("default"))]
        assert len(done) == 4 and all(done), done  # the work was shared

    for book_id in book_ids:
        assert_fully_illustrated(BookJob.objects.get(pk=book_id))
    images = GeneratedImage.objects.filter(book_id__in=book_ids)
    assert images.count() == 20 * 6  # cover, four pages, end
    assert not images.filter(status__in=[ImageStatus.PENDING, ImageStatus.PROCESSING]).exists()
    calls = Counter(call.prompt for call in fake_openrouter.calls)
    assert set(calls) == set(images.values_list("prompt", flat=True))
    assert set(calls.values()) == {1}, [prompt[:80] for prompt, n in calls.items() if n > 1]
    attempts = ImageAttempt.objects.filter(image__book_id__in=book_ids)
    assert attempts.count() == len(fake_openrouter.calls)
    assert set(attempts.values_list("outcome", flat=True)) == {AttemptOutcome.SUCCESS}
    assert not images.filter(cached=True).exists()


def test_a_worker_killed_mid_book_loses_no_page(user, fake_openrouter, settings, tmp_path):
    settings.IMAGE_LEASE_SECONDS = 2
    settings.IMAGE_CONCURRENCY = 4
    fake_openrouter.latency = 0.5
    env = {**provider_env(fake_openrouter), "IMAGE_LEASE_SECONDS": "2", "IMAGE_CONCURRENCY": "4"}
    with worker_processes(2, env=env, log_dir=tmp_path) as (doomed, survivor):
        book = create_book(owner=user, title="The Long Night Walk", pages=story(1, pages=18))
        images = GeneratedImage.objects.filter(book=book)
        # A job has at most IMAGE_CONCURRENCY (4) provider calls in flight, each answered after
        # 0.5 s: more than four calls begun in the last 0.3 s means both workers hold pages now,
        # so the kill below certainly interrupts some.
        wait_for(lambda: calls_begun_within(fake_openrouter, 0.3) > 4, timeout=30, every=0.01, what="both drawing")
        doomed.kill()  # SIGKILL, worker and work horse: pages it held stay claimed
        killed_at = images.filter(status=ImageStatus.COMPLETED).count()

        # The survivor draws every page nobody holds; the dead worker's pages stay claimed.
        wait_for(lambda: not images.filter(status=ImageStatus.PENDING).exists(), timeout=30, what="pending pages")
        assert images.filter(status=ImageStatus.COMPLETED).count() > killed_at
        # Once the survivor has nothing left to draw it stops renewing the book's lease; the
        # recovery sweep (rqcron runs it every 30 s) then marks the book and the held pages failed.
        wait_for(
            recover_orphaned_books, timeout=15, what=lambda: f"recovery of {describe(book)}\n{worker_logs(tmp_path)}"
        )
        book.refresh_from_db()
        assert book.status == BookStatus.FAILED and "worker" in book.error
        interrupted = set(images.filter(status=ImageStatus.FAILED).values_list("page_number", flat=True))
        assert interrupted, "the killed worker held no page; the test did not kill it mid-book"
        assert set(images.filter(error__startswith="Interrupted").values_list("page_number", flat=True)) == interrupted
        assert images.filter(status=ImageStatus.COMPLETED).count() == images.count() - len(interrupted)

        regeneration = start_regeneration(book_id=book.pk, user=user)
        assert regeneration.outcome is RegenerationOutcome.STARTED
        assert regeneration.failed_image_count == len(interrupted)
        wait_for(lambda: settled(book.pk), timeout=30, what=f"the regenerated book\n{worker_logs(tmp_path)}")
        assert survivor.process.poll() is None

    assert_fully_illustrated(book)
    calls = Counter(call.prompt for call in fake_openrouter.calls)
    for image in images:
        # Pages drawn before the kill were called once; an interrupted page at most once more.
        expected = {1, 2} if image.page_number in interrupted else {1}
        assert calls[image.prompt] in expected, (image.page_number, calls[image.prompt])
        assert image.retry_attempt == (1 if image.page_number in interrupted else 0)
        assert image.attempts.filter(round=image.retry_attempt, outcome=AttemptOutcome.SUCCESS).count() == 1
