"""Orphaned books: a book whose worker died is marked failed, so its owner can regenerate it."""

import logging
import threading

from django.db import transaction
from django.utils import timezone

from books.models import IN_PROGRESS, BookJob, BookStatus
from books.services.drawing import rq_queue
from images.models import GeneratedImage, ImageStatus
from images.services import (
    UNFINISHED,
)

logger = logging.getLogger("bookstudio.books")


def _waiting_jobs(job_ids: list[str]) -> bool:
    from rq.job import Job, JobStatus

    if not job_ids:
        return False
    waiting = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
    jobs = Job.fetch_many(job_ids, connection=rq_queue().connection)
    return any(job is not None and job.get_status(refresh=False) in waiting for job in jobs)


_recovery_lock = threading.Lock()


def recover_orphaned_book(book: BookJob) -> bool:
    """Mark a book failed when the worker making it died: its lease lapsed and no job of it waits."""
    now = timezone.now()
    if not book.in_progress or (book.lease_expires_at and book.lease_expires_at > now):
        return False
    if _waiting_jobs(book.rq_job_ids):
        return False
    error = "The worker making this book stopped before finishing. Retry the failed images to finish it."
    with transaction.atomic():
        changed = BookJob.objects.filter(
            pk=book.pk, status__in=IN_PROGRESS, lease_expires_at=book.lease_expires_at
        ).update(status=BookStatus.FAILED, rendering=False, error=error, progress="Stopped", updated_at=now)
        if changed:
            GeneratedImage.objects.filter(book_id=book.pk, status__in=UNFINISHED).update(
                status=ImageStatus.FAILED, error="Interrupted: its worker stopped", lease_expires_at=None
            )
    if changed:
        logger.warning("orphaned book recovered book=%s", book.pk)
    return bool(changed)


def recover_orphaned_books() -> int:
    """Sweep every in-progress book whose lease lapsed (run by `manage.py recoverbooks`)."""
    with _recovery_lock:
        # exclude(), not filter(lease_expires_at__lt=...): a book with no lease at all is as orphaned
        # as one whose lease lapsed (recover_orphaned_book treats both alike), and SQL's NULL < now is
        # never true, so filter() would leave such a book stuck in progress forever.
        stale = BookJob.objects.filter(status__in=IN_PROGRESS).exclude(lease_expires_at__gte=timezone.now())
        return sum(recover_orphaned_book(book) for book in stale)
