"""Drawing a book's pages: RQ jobs whose threads claim pages until none is left, and the hand-over to
the render once the last page is done."""

import logging
import uuid
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

import django_rq
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from rq import Queue

from books.models import IN_PROGRESS, BookJob, BookStatus
from images.models import GeneratedImage, ImageStatus
from images.providers import get_provider
from images.services import (
    UNFINISHED,
    Illustrator,
    claim_next_image,
    illustrate_image,
)

logger = logging.getLogger("bookstudio.books")


def rq_queue() -> Queue:
    return django_rq.get_queue("default")


def lease_until() -> datetime:
    return timezone.now() + timedelta(seconds=settings.IMAGE_LEASE_SECONDS)


def enqueue_drawing(book: BookJob, *, pending: int) -> None:
    """Enqueue enough draw_pages jobs for every worker that is free to help with this book.

    Each job draws with IMAGE_CONCURRENCY threads; later jobs that find no page left end at once.
    """
    from books import tasks

    per_job = max(1, settings.IMAGE_CONCURRENCY)
    job_ids = [f"book-{book.pk}-draw-{uuid.uuid4().hex[:8]}" for _ in range(max(1, -(-pending // per_job)))]
    BookJob.objects.filter(pk=book.pk).update(rq_job_ids=job_ids, lease_expires_at=lease_until())

    def enqueue() -> None:
        queue = rq_queue()
        for job_id in job_ids:
            queue.enqueue(tasks.draw_pages, str(book.pk), job_id=job_id, result_ttl=3600, failure_ttl=86400)

    transaction.on_commit(enqueue)


def _page_counts(book_id) -> tuple[int, int]:
    """(pages drawn or given up, pages) of a book, in one query."""
    counts = GeneratedImage.objects.filter(book_id=book_id).aggregate(
        done=Count("pk", filter=~Q(status__in=UNFINISHED)), total=Count("pk")
    )
    return counts["done"], counts["total"]


def _progress_text(done: int, total: int) -> str:
    return f"Illustrated {done} of {total} pages"


def _draw_until_none_left(book_id, illustrator: Illustrator, held: set) -> None:
    try:
        while (image := claim_next_image(book_id=book_id, lease_seconds=settings.IMAGE_LEASE_SECONDS)) is not None:
            held.add(image.pk)
            try:
                illustrate_image(image=image, illustrator=illustrator)
            except Exception as exc:  # a bug or a storage outage must not leave the page claimed
                logger.exception("image crashed image=%s book=%s", image.pk, book_id)
                GeneratedImage.objects.filter(pk=image.pk).update(
                    status=ImageStatus.FAILED, error=f"Unexpected error: {type(exc).__name__}", lease_expires_at=None
                )
            finally:
                held.discard(image.pk)
            done, total = _page_counts(book_id)
            BookJob.objects.filter(pk=book_id, rendering=False).update(
                progress=_progress_text(done, total), updated_at=timezone.now()
            )
            if done == total:  # the thread whose page commits last always sees this; draw_pages checks again
                finish_round_if_done(book_id=book_id)
    finally:
        connection.close()  # each thread opened its own connection


def _renew_leases(book_id, held: set) -> None:
    until = lease_until()
    BookJob.objects.filter(pk=book_id, status__in=IN_PROGRESS).update(lease_expires_at=until)
    if held:
        GeneratedImage.objects.filter(pk__in=list(held), status=ImageStatus.PROCESSING).update(lease_expires_at=until)


def draw_pages(*, book_id) -> None:
    """The body of one draw_pages RQ job: illustrate the book's pending pages until none is left."""
    close_old_connections()
    BookJob.objects.filter(pk=book_id, status=BookStatus.PENDING).update(
        status=BookStatus.PROCESSING, progress=_progress_text(*_page_counts(book_id)), lease_expires_at=lease_until()
    )
    if not BookJob.objects.filter(pk=book_id, status=BookStatus.PROCESSING, rendering=False).exists():
        return
    illustrator = Illustrator.from_settings(get_provider())
    held: set = set()
    threads = max(1, settings.IMAGE_CONCURRENCY)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"draw-{str(book_id)[:8]}") as pool:
        futures = [pool.submit(_draw_until_none_left, book_id, illustrator, held) for _ in range(threads)]
        # The lease says "a live worker is on this book"; renew it while the threads draw.
        while True:
            done, running = wait(futures, timeout=settings.IMAGE_LEASE_SECONDS / 3, return_when=FIRST_EXCEPTION)
            if not running or any(f.exception() for f in done):
                break
            _renew_leases(book_id, held)
    for future in futures:
        future.result()
    finish_round_if_done(book_id=book_id)


def finish_round_if_done(*, book_id) -> bool:
    """When no page is left to draw, enqueue the render, exactly once per round."""
    if GeneratedImage.objects.filter(book_id=book_id, status__in=UNFINISHED).exists():
        return False
    from books import tasks

    draw_job_ids = BookJob.objects.filter(pk=book_id).values_list("rq_job_ids", flat=True).first() or []
    job_id = f"book-{book_id}-render-{uuid.uuid4().hex[:8]}"
    claimed = BookJob.objects.filter(pk=book_id, status__in=IN_PROGRESS, rendering=False).update(
        rendering=True,
        status=BookStatus.PROCESSING,
        progress="Rendering PDFs",
        rq_job_ids=[job_id],
        lease_expires_at=lease_until(),
        updated_at=timezone.now(),
    )
    if claimed:
        # At the front: the book's leftover draw jobs (they find no page and end) and other books'
        # pages must not keep a finished book from its PDFs.
        rq_queue().enqueue(
            tasks.render_book, str(book_id), job_id=job_id, result_ttl=3600, failure_ttl=86400, at_front=True
        )
        _drop_waiting_jobs(draw_job_ids)
    return bool(claimed)


def _drop_waiting_jobs(job_ids: list[str]) -> None:
    """Delete the round's draw jobs still waiting in the queue: with no page left, each would only take
    a worker for a forked process that finds nothing to do."""
    from rq.job import Job, JobStatus

    try:
        for job in Job.fetch_many(job_ids, connection=rq_queue().connection):
            if job is not None and job.get_status(refresh=False) == JobStatus.QUEUED:
                job.delete()  # a worker that dequeues it at this very moment skips a job that is gone
    except Exception:  # an optimisation: the jobs would end on their own
        logger.warning("could not drop leftover draw jobs ids=%s", job_ids, exc_info=True)
