"""Shared checks for the production tests: waiting on worker processes, and what a finished book
must look like in the database and in storage."""

import contextlib
import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import django_rq
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone
from pypdf import PdfReader
from rq import Worker

from books.models import BookJob, BookPdf, BookStatus
from images.models import GeneratedImage, ImageStatus
from tests.support.workers import WorkerProcess


def wait_for(
    condition: Callable[[], object], *, timeout: float, every: float = 0.1, what: str | Callable[[], str] = "it"
):
    """Poll until ``condition()`` is truthy and return it; fail the test on timeout, saying ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(every)
    pytest.fail(f"timed out after {timeout}s waiting for {what() if callable(what) else what}")


def settled(book_id) -> BookJob | None:
    """The book once it is completed or failed, else None."""
    book = BookJob.objects.get(pk=book_id)
    return book if book.status in (BookStatus.COMPLETED, BookStatus.FAILED) else None


def describe(book: BookJob) -> str:
    """The book and its pages as one line per row, for failure messages."""
    book.refresh_from_db()
    now = timezone.now()
    lines = [
        f"book {book.status} rendering={book.rendering} lease_in={_seconds(book.lease_expires_at, now)} "
        f"jobs={book.rq_job_ids} progress={book.progress!r} error={book.error!r}"
    ]
    for image in GeneratedImage.objects.filter(book=book):
        lines.append(
            f"  page {image.page_number}: {image.status} round={image.retry_attempt} "
            f"lease_in={_seconds(image.lease_expires_at, now)} error={image.error!r}"
        )
    return "\n".join(lines)


def _seconds(moment, now) -> str:
    return "none" if moment is None else f"{(moment - now).total_seconds():.1f}s"


def assert_pdfs_whole(book: BookJob) -> None:
    """Every BookPdf row points at a complete PDF in storage: it parses, with the pages the row says."""
    for pdf in BookPdf.objects.filter(book=book):
        with default_storage.open(pdf.file.name, "rb") as handle:
            data = handle.read()
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF"), pdf.file.name
        assert len(data) == pdf.size_bytes, pdf.file.name
        assert len(PdfReader(io.BytesIO(data)).pages) == pdf.page_count, pdf.file.name


def assert_fully_illustrated(book: BookJob) -> None:
    """Completed, every page drawn and stored, both PDFs whole."""
    book.refresh_from_db()
    assert book.status == BookStatus.COMPLETED, (book.status, book.error, book.progress)
    assert not book.rendering
    images = list(GeneratedImage.objects.filter(book=book))
    assert images and all(image.status == ImageStatus.COMPLETED for image in images), [
        (image.page_number, image.status, image.error) for image in images
    ]
    for image in images:
        assert default_storage.exists(image.image.name) and default_storage.exists(image.thumbnail.name)
    assert set(BookPdf.objects.filter(book=book).values_list("kind", flat=True)) == {"booklet", "review"}
    assert_pdfs_whole(book)


def provider_env(fake) -> dict[str, str]:
    """Environment for worker processes: the openrouter provider pointed at the fake server."""
    return {
        "IMAGE_PROVIDER": "openrouter",
        "OPENROUTER_BASE_URL": fake.url,
        "OPENROUTER_API_KEY": settings.OPENROUTER_API_KEY,
        "IMAGE_MODEL": settings.IMAGE_MODEL,
        "IMAGE_RETRY_BACKOFF": "0.01",
        "LOG_LEVEL": "WARNING",
    }


def registered_workers() -> int:
    return Worker.count(connection=django_rq.get_connection("default"))


@contextlib.contextmanager
def worker_processes(count: int, *, env: dict[str, str], log_dir: Path) -> Iterator[list[WorkerProcess]]:
    """``count`` long-running `manage.py rqworker` processes, up and listening; killed at the end."""
    workers = [WorkerProcess(env=env, log=log_dir / f"worker-{n}.log") for n in range(count)]
    try:
        for worker in workers:
            worker.start()
        wait_for(lambda: registered_workers() >= count, timeout=30, what=f"{count} workers to register")
        yield workers
    finally:
        for worker in workers:
            worker.kill()


def worker_logs(log_dir: Path) -> str:
    return "\n".join(f"--- {log.name}\n{log.read_text()[-2000:]}" for log in sorted(log_dir.glob("worker-*.log")))


def drive_to_completion(book: BookJob, *, user, timeout: float, supervise: list[WorkerProcess] = ()) -> list[str]:
    """Act as production does after a fault until the book is complete with every page drawn.

    Runs the recovery sweep (cron does, every 30 s), retries a failed book as its owner would,
    and restarts worker processes that exited (as a process supervisor does). At every step every
    BookPdf row must point at a whole PDF. Returns the errors the owner was shown along the way.
    """
    from books.services import RegenerationOutcome, recover_orphaned_books, start_regeneration

    shown: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker in supervise:
            if worker.process is None or worker.process.poll() is not None:
                worker.start()
        book.refresh_from_db()
        assert_pdfs_whole(book)
        failed_pages = GeneratedImage.objects.filter(book=book, status=ImageStatus.FAILED)
        if book.status == BookStatus.COMPLETED and not failed_pages.exists():
            return shown
        if book.status == BookStatus.FAILED or (book.status == BookStatus.COMPLETED and failed_pages.exists()):
            shown += [book.error] if book.status == BookStatus.FAILED else []
            shown += list(failed_pages.values_list("error", flat=True))
            regeneration = start_regeneration(book_id=book.pk, user=user)
            assert regeneration.outcome is RegenerationOutcome.STARTED, regeneration.message
        else:
            recover_orphaned_books()
        time.sleep(0.2)
    pytest.fail(f"the book did not complete in {timeout}s:\n{describe(book)}")


def assert_readable(errors: list[str]) -> None:
    """Errors shown to an owner are a sentence, never empty, never a traceback."""
    for error in errors:
        assert error and len(error) < 300 and "Traceback" not in error and "\n" not in error, error
