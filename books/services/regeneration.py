"""Regeneration: the one operation behind the API, the book page and the admin action."""

import enum
import logging
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from books.models import BookJob, BookStatus
from books.ratelimit import enforce_rate_limit
from books.selectors import book_for_user
from books.services.drawing import enqueue_drawing, finish_round_if_done, lease_until
from books.services.recovery import recover_orphaned_book
from images.models import ImageStatus
from images.services import (
    UNFINISHED,
    reset_for_regeneration,
)

logger = logging.getLogger("bookstudio.books")


class RegenerationOutcome(enum.Enum):
    NOT_FOUND = "not_found"
    IN_PROGRESS = "in_progress"
    NOTHING_TO_DO = "nothing_to_do"
    STARTED = "started"


@dataclass(frozen=True)
class Regeneration:
    outcome: RegenerationOutcome
    book: BookJob | None
    failed_image_count: int

    @property
    def message(self) -> str:
        if self.outcome is RegenerationOutcome.STARTED and not self.failed_image_count:
            return "Regeneration started. Rendering the PDFs again."
        if self.outcome is RegenerationOutcome.STARTED:
            return f"Regeneration started. Retrying {self.failed_image_count} failed images."
        if self.outcome is RegenerationOutcome.NOTHING_TO_DO:
            return "No failed images to retry."
        if self.outcome is RegenerationOutcome.IN_PROGRESS:
            return f"Cannot regenerate: job is still {self.book.status}"
        return "Job not found"


def start_regeneration(*, book_id: object, user: AbstractBaseUser, allow_staff: bool = False) -> Regeneration:
    """The one way to retry a book's failed pages; the API, the book page and the admin call it.

    Decides, in order: not the user's book -> NOT_FOUND; pending or processing -> IN_PROGRESS
    (unless its worker died, which is recovered first); no failed pages and the book not failed ->
    NOTHING_TO_DO (a failed book with every page drawn gets its PDFs rendered again); past the
    user's hourly limit -> RateLimited; else claims the book with a conditional UPDATE, so
    concurrent requests start one regeneration.
    """
    book = book_for_user(user, book_id, allow_staff=allow_staff)
    if book is None:
        return Regeneration(RegenerationOutcome.NOT_FOUND, None, 0)
    if book.in_progress and recover_orphaned_book(book):
        book.refresh_from_db()
    if book.in_progress:
        return Regeneration(RegenerationOutcome.IN_PROGRESS, book, 0)
    retryable = book.images.filter(status__in=[ImageStatus.FAILED, *UNFINISHED])
    # A failed book with every page drawn failed while rendering (or its render worker died): it
    # still needs its PDFs, so it is not "nothing to do".
    if not retryable.exists() and book.status != BookStatus.FAILED:
        return Regeneration(RegenerationOutcome.NOTHING_TO_DO, book, 0)
    enforce_rate_limit(user=user, action="regeneration")
    with transaction.atomic():
        claimed = BookJob.objects.filter(pk=book.pk, status__in=[BookStatus.COMPLETED, BookStatus.FAILED]).update(
            status=BookStatus.PENDING, rendering=False, error="", updated_at=timezone.now()
        )
        if not claimed:  # another request claimed it a moment ago
            book.refresh_from_db()
            return Regeneration(RegenerationOutcome.IN_PROGRESS, book, 0)
        count = reset_for_regeneration(book_id=book.pk)
        if count:
            BookJob.objects.filter(pk=book.pk).update(progress=f"Retrying {count} failed images")
            enqueue_drawing(book, pending=count)
        else:  # only the render is missing; the lease keeps the recovery sweep off it until then
            BookJob.objects.filter(pk=book.pk).update(progress="Rendering PDFs again", lease_expires_at=lease_until())
            transaction.on_commit(lambda: finish_round_if_done(book_id=book.pk))
    book.refresh_from_db()
    logger.info("regeneration started book=%s images=%s by=%s", book.pk, count, user.pk)
    return Regeneration(RegenerationOutcome.STARTED, book, count)
