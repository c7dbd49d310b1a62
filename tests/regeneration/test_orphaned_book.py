"""A worker process killed mid-book (SIGKILL, as a lost machine): the book is recovered, then finished."""

import time

import pytest
from django.utils import timezone

from books.auth import create_token
from books.models import BookJob, BookPdf, BookStatus
from books.services import create_book, recover_orphaned_books
from images.models import GeneratedImage, ImageStatus
from tests.regeneration.stories import ILLUSTRATED_PAGES, PAGES
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)

LEASE_SECONDS = 2
STOPPED = "The worker making this book stopped before finishing. Retry the failed images to finish it."


def wait_for(condition, *, timeout: float, what: str, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}" + (f"\nworker log:\n{log.read_text()[-3000:]}" if log else ""))


def images(book, status) -> set[int]:
    return set(GeneratedImage.objects.filter(book=book, status=status).values_list("page_number", flat=True))


@pytest.fixture
def worker_env(fake_openrouter, settings):
    """The settings a worker process needs to draw against the fake provider, with a short lease."""
    settings.IMAGE_LEASE_SECONDS = LEASE_SECONDS
    settings.IMAGE_CONCURRENCY = 16  # create_book enqueues one draw job, so nothing of the book waits in the queue
    return {
        "IMAGE_PROVIDER": "openrouter",
        "OPENROUTER_BASE_URL": fake_openrouter.url,
        "OPENROUTER_API_KEY": settings.OPENROUTER_API_KEY,
        "IMAGE_MODEL": settings.IMAGE_MODEL,
        "IMAGE_LEASE_SECONDS": str(LEASE_SECONDS),
        "IMAGE_CONCURRENCY": "2",  # two pages at a time, so the book takes a while
        "IMAGE_RETRY_BACKOFF": "0.01",
        "IMAGE_FAULT_RATE": "0",
    }


@pytest.fixture
def orphaned_book(user, fake_openrouter, worker_env, tmp_path):
    """A book whose worker was SIGKILLed with some pages drawn and some mid-call; its lease has lapsed."""
    fake_openrouter.latency = 2.0
    book = create_book(owner=user, title="Mira Underground", pages=PAGES)
    log = tmp_path / "killed-worker.log"
    worker = WorkerProcess(env=worker_env, log=log).start()
    try:
        wait_for(
            lambda: images(book, ImageStatus.COMPLETED) and images(book, ImageStatus.PROCESSING),
            timeout=60,
            what="a drawn page and a page being drawn",
            log=log,
        )
    finally:
        worker.kill()
    book.refresh_from_db()
    assert book.status == BookStatus.PROCESSING
    # The lease was renewed moments ago: nothing says the worker is gone yet.
    assert recover_orphaned_books() == 0
    assert BookJob.objects.get(pk=book.pk).status == BookStatus.PROCESSING
    wait_for(
        lambda: BookJob.objects.get(pk=book.pk).lease_expires_at < timezone.now(),
        timeout=LEASE_SECONDS * 3,
        what="the lease to lapse",
    )
    fake_openrouter.latency = 0.0
    return book


def finish_with_a_fresh_worker(book, worker_env, tmp_path) -> None:
    log = tmp_path / "fresh-worker.log"
    worker = WorkerProcess(env=worker_env, burst=True, log=log).start()
    assert worker.wait(120) == 0, log.read_text()[-3000:]
    book.refresh_from_db()
    assert book.status == BookStatus.COMPLETED, (book.error, log.read_text()[-3000:])
    assert images(book, ImageStatus.COMPLETED) == {page["number"] for page in book.pages if page["kind"] != "blank"}
    assert BookPdf.objects.get(book=book, kind="review").page_count == ILLUSTRATED_PAGES


def test_the_sweep_fails_an_orphaned_book_and_a_regeneration_finishes_it(
    client, user, orphaned_book, worker_env, tmp_path, fake_openrouter
):
    book = orphaned_book
    drawn = images(book, ImageStatus.COMPLETED)
    unfinished = images(book, ImageStatus.PROCESSING) | images(book, ImageStatus.PENDING)
    assert drawn and unfinished and len(drawn | unfinished) == ILLUSTRATED_PAGES

    assert recover_orphaned_books() == 1
    book.refresh_from_db()
    assert (book.status, book.error, book.rendering) == (BookStatus.FAILED, STOPPED, False)
    assert images(book, ImageStatus.FAILED) == unfinished and images(book, ImageStatus.COMPLETED) == drawn
    for image in GeneratedImage.objects.filter(book=book, status=ImageStatus.FAILED):
        assert image.error == "Interrupted: its worker stopped" and image.lease_expires_at is None
    assert recover_orphaned_books() == 0  # once is enough

    headers = {"Authorization": f"Bearer {create_token(user=user)[1]}"}
    status = client.get(f"/api/v1/books/{book.pk}", headers=headers).json()
    assert (status["status"], status["error"], status["failed_image_count"]) == ("failed", STOPPED, len(unfinished))
    response = client.post(f"/api/v1/books/{book.pk}/regenerate", headers=headers)
    assert response.status_code == 202, response.content
    assert response.json()["failed_image_count"] == len(unfinished)

    calls_before = len(fake_openrouter.calls)
    finish_with_a_fresh_worker(book, worker_env, tmp_path)
    # Only the unfinished pages were drawn again; the drawn ones kept their first round.
    assert len(fake_openrouter.calls) == calls_before + len(unfinished)
    retried = GeneratedImage.objects.filter(book=book, retry_attempt=1)
    assert set(retried.values_list("page_number", flat=True)) == unfinished


def test_a_regenerate_request_recovers_the_orphaned_book_first(client, user, orphaned_book, worker_env, tmp_path):
    book = orphaned_book
    unfinished = images(book, ImageStatus.PROCESSING) | images(book, ImageStatus.PENDING)
    headers = {"Authorization": f"Bearer {create_token(user=user)[1]}"}

    response = client.post(f"/api/v1/books/{book.pk}/regenerate", headers=headers)

    assert response.status_code == 202, response.content
    assert response.json()["failed_image_count"] == len(unfinished)
    assert images(book, ImageStatus.PENDING) == unfinished
    finish_with_a_fresh_worker(book, worker_env, tmp_path)


def test_a_book_still_waiting_in_the_queue_is_not_orphaned(user, settings, run_worker):
    settings.IMAGE_LEASE_SECONDS = 0  # the lease lapses at once, but the book's draw job still waits for a worker
    book = create_book(owner=user, title="Queued", pages=PAGES)
    time.sleep(0.01)

    assert recover_orphaned_books() == 0
    assert BookJob.objects.get(pk=book.pk).status == BookStatus.PENDING
    settings.IMAGE_LEASE_SECONDS = 60
    run_worker()
    assert BookJob.objects.get(pk=book.pk).status == BookStatus.COMPLETED


def test_the_sweep_also_recovers_a_book_left_in_progress_without_a_lease(user, run_worker):
    book = create_book(owner=user, title="Leaseless", pages=PAGES)
    run_worker()
    # As a row written by an older release or edited by hand: in progress, no lease, no job waiting.
    BookJob.objects.filter(pk=book.pk).update(status=BookStatus.PROCESSING, lease_expires_at=None)
    GeneratedImage.objects.filter(book=book, page_number=2).update(status=ImageStatus.PROCESSING)

    assert recover_orphaned_books() == 1
    book.refresh_from_db()
    assert (book.status, book.error) == (BookStatus.FAILED, STOPPED)
    assert images(book, ImageStatus.FAILED) == {2}
