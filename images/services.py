"""Writes for images: claim a page, illustrate it under the retry policy, record every call."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

# Loaded with the worker rather than on first use: RQ forks a process per job, and what the worker
# has imported no job imports again (requests alone took ~50 ms of every draw job's start).
import images.providers.openrouter  # noqa: F401
from images.imaging import PreparedImage, prepare_image
from images.models import AttemptOutcome, GeneratedImage, ImageAttempt, ImageStatus
from images.providers import ImageProvider, ProviderWideError
from images.retry import AttemptReport, RetriesExhausted, RetryPolicy
from images.throttle import CallSlots, RetryBudget

logger = logging.getLogger("bookstudio.images")

UNFINISHED = (ImageStatus.PENDING, ImageStatus.PROCESSING)


@dataclass
class Illustrator:
    """Everything one worker needs to illustrate pages; shared by the threads of a job."""

    provider: ImageProvider
    policy: RetryPolicy
    budget: RetryBudget | None = None
    slots: CallSlots | None = None

    @classmethod
    def from_settings(cls, provider: ImageProvider) -> "Illustrator":
        scope = f"{provider.name}:{provider.model}"
        return cls(
            provider=provider,
            policy=RetryPolicy.from_settings(),
            budget=RetryBudget.for_provider(scope),
            slots=CallSlots.for_provider(scope),
        )


def claim_next_image(*, book_id, lease_seconds: float) -> GeneratedImage | None:
    """Take the next pending page of a book for this worker, or None when none is left.

    A conditional UPDATE makes the claim safe across threads, processes and machines.
    """
    while True:
        candidate = (
            GeneratedImage.objects.filter(book_id=book_id, status=ImageStatus.PENDING).order_by("page_number").first()
        )
        if candidate is None:
            return None
        now = timezone.now()
        lease = now + timedelta(seconds=lease_seconds)
        claimed = GeneratedImage.objects.filter(pk=candidate.pk, status=ImageStatus.PENDING).update(
            status=ImageStatus.PROCESSING, lease_expires_at=lease, updated_at=now
        )
        if claimed:  # the row read above plus what the claim changed: no third query per page
            candidate.status, candidate.lease_expires_at, candidate.updated_at = ImageStatus.PROCESSING, lease, now
            return candidate


def fail_pending_images(*, book_id, error: str) -> int:
    """Mark every page of the book still waiting for a call as failed (provider-wide stop)."""
    return GeneratedImage.objects.filter(book_id=book_id, status=ImageStatus.PENDING).update(
        status=ImageStatus.FAILED, error=error, lease_expires_at=None, updated_at=timezone.now()
    )


def _record_attempt(image: GeneratedImage, report: AttemptReport, *, attempts: int) -> None:
    error = report.error
    if error is None:
        outcome = AttemptOutcome.SUCCESS
    elif error.retryable:
        outcome = AttemptOutcome.TRANSIENT
    else:
        outcome = AttemptOutcome.PERMANENT
    ImageAttempt.objects.create(
        image=image,
        number=report.number,
        round=image.retry_attempt,
        started_at=datetime.fromtimestamp(report.started, tz=UTC),
        duration_ms=round(report.duration * 1000),
        outcome=outcome,
        http_status=error.http_status if error else None,
        error=error.message[:500] if error else "",
        wait_seconds=round(report.wait, 3) if report.wait is not None else None,
    )
    if error is not None:
        logger.warning(
            "image attempt failed image=%s book=%s page=%s attempt=%s/%s outcome=%s http_status=%s cause=%r "
            "next_wait=%s",
            image.pk, image.book_id, image.page_number, report.number, attempts, outcome,
            error.http_status, error.message, f"{report.wait:.2f}s" if report.wait is not None else "none",
        )  # fmt: skip


def _copy_from_cache(image: GeneratedImage) -> bool:
    twin = (
        GeneratedImage.objects.filter(prompt_hash=image.prompt_hash, status=ImageStatus.COMPLETED)
        .exclude(pk=image.pk)
        .exclude(image="")
        .first()
    )
    if twin is None:
        return False
    try:
        with twin.image.open("rb") as print_file, twin.thumbnail.open("rb") as thumb_file:
            prepared = PreparedImage(print_file.read(), thumb_file.read(), twin.width, twin.height)
    except OSError:
        return False  # the twin's file is gone: draw the page afresh
    _store(image, prepared, model=twin.model, cached=True)
    return True


def _store(image: GeneratedImage, prepared: PreparedImage, *, model: str, cached: bool) -> None:
    folder = f"images/{image.book_id}"
    image.image.name = default_storage.save(f"{folder}/page_{image.page_number}.jpg", ContentFile(prepared.print_jpeg))
    image.thumbnail.name = default_storage.save(
        f"{folder}/thumbs/page_{image.page_number}.jpg", ContentFile(prepared.thumbnail_jpeg)
    )
    image.size_bytes = len(prepared.print_jpeg)
    image.width, image.height = prepared.width, prepared.height
    image.model = model
    image.cached = cached
    image.status = ImageStatus.COMPLETED
    image.error = ""
    image.lease_expires_at = None
    image.completed_at = timezone.now()
    image.save()


def illustrate_image(*, image: GeneratedImage, illustrator: Illustrator) -> bool:
    """Draw one claimed page: cache, provider calls under the retry policy, storage. True when done.

    A provider-wide failure (bad key, no credits) also fails the book's other waiting pages,
    so they make no calls of their own.
    """
    if _copy_from_cache(image):
        return True
    provider, budget = illustrator.provider, illustrator.budget

    def attempt(number: int) -> tuple[PreparedImage, str]:
        if illustrator.slots is not None:
            with illustrator.slots.slot():
                picture = provider.generate(image.prompt)
        else:
            picture = provider.generate(image.prompt)
        return prepare_image(picture.data), picture.model

    def on_attempt(report: AttemptReport) -> None:
        if budget is not None:
            try:
                budget.record(success=report.error is None)
            except redis.RedisError:  # the budget is advice: a Redis blip must not discard a paid-for image
                logger.warning("retry budget unavailable image=%s", image.pk, exc_info=True)
        _record_attempt(image, report, attempts=illustrator.policy.attempts)

    def may_retry() -> bool:
        try:
            return budget.allows_retry()
        except redis.RedisError:  # without the shared budget, the page's own attempt cap still holds
            return True

    try:
        prepared, model = illustrator.policy.call(
            attempt, on_attempt=on_attempt, may_retry=may_retry if budget else None
        )
    except RetriesExhausted as exhausted:
        GeneratedImage.objects.filter(pk=image.pk).update(
            status=ImageStatus.FAILED, error=exhausted.message, lease_expires_at=None, updated_at=timezone.now()
        )
        logger.error(
            "image failed image=%s book=%s page=%s attempts=%s error=%r",
            image.pk, image.book_id, image.page_number, exhausted.attempts, exhausted.message,
        )  # fmt: skip
        if isinstance(exhausted.last, ProviderWideError):
            fail_pending_images(book_id=image.book_id, error=exhausted.message)
        return False
    _store(image, prepared, model=model, cached=False)
    return True


def reset_for_regeneration(*, book_id) -> int:
    """Send a book's failed (and abandoned) pages back to the queue for a new round."""
    with transaction.atomic():
        return GeneratedImage.objects.filter(
            book_id=book_id, status__in=[ImageStatus.FAILED, *UNFINISHED]
        ).update(
            status=ImageStatus.PENDING,
            retry_attempt=F("retry_attempt") + 1,
            retried_at=timezone.now(),
            error="",
            lease_expires_at=None,
            updated_at=timezone.now(),
        )
