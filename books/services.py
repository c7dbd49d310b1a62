"""Writes for books: create a book, draw its pages, render and swap its PDFs, regenerate, recover.

A book's life: create_book stores the job and its image rows and enqueues draw_pages jobs; each
draw_pages job claims pages one by one (several threads per worker, several workers per book);
whichever page finishes last enqueues render_book, which writes both PDFs under new names and
switches the book to them in one transaction.
"""

import enum
import logging
import threading
import uuid
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import close_old_connections, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from books import pagination
from books.models import IN_PROGRESS, BookJob, BookPdf, BookStatus, PdfKind
from books.pdf import PdfPage, RenderedPdf, image_url, render_booklet, render_review
from books.ratelimit import enforce_rate_limit
from books.selectors import book_for_user
from images.models import GeneratedImage, ImageStatus
from images.prompts import page_prompt, prompt_hash
from images.providers import get_provider
from images.services import (
    UNFINISHED,
    Illustrator,
    claim_next_image,
    illustrate_image,
    reset_for_regeneration,
)

logger = logging.getLogger("bookstudio.books")

MAX_AUTHOR_CHARS = 200
MAX_STYLE_CHARS = 300
MAX_END_TEXT_CHARS = 100


class InvalidBook(ValueError):
    """Input that cannot become a book. ``errors`` maps each bad field to a readable message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


# ---------------------------------------------------------------- creating a book


def _check_lengths(*, author: str, style: str, end_text: str) -> dict[str, str]:
    errors = {}
    for field, value, limit in (
        ("author", author, MAX_AUTHOR_CHARS),
        ("style", style, MAX_STYLE_CHARS),
        ("end_text", end_text, MAX_END_TEXT_CHARS),
    ):
        if len(value) > limit:
            errors[field] = f"Keep this under {limit} characters (it has {len(value)})."
    return errors


@transaction.atomic
def create_book(
    *,
    owner: AbstractBaseUser,
    title: str,
    story: str = "",
    pages: list[str] | None = None,
    author: str = "",
    language: str = "en",
    end_text: str = "",
    style: str = "",
    source: str = "web",
) -> BookJob:
    """Lay out the story, store the job and one image row per illustrated page, and enqueue it.

    The image rows exist before any provider call, so a crash mid-book leaves pages that can be
    retried. Raises InvalidBook naming each bad field (nothing is stored then), or RateLimited.
    """
    author, style, end_text = author.strip(), style.strip(), end_text.strip()
    errors = _check_lengths(author=author, style=style, end_text=end_text)
    try:
        laid_out = pagination.paginate(title=title, story=story, pages=pages, language=language, end_text=end_text)
    except pagination.PaginationError as exc:
        errors.setdefault(exc.field, exc.message)
    if errors:
        raise InvalidBook(errors)
    enforce_rate_limit(user=owner, action="book")
    book = BookJob.objects.create(
        owner=owner,
        title=laid_out[0].text,
        author=author,
        language=language,
        story=story if pages is None else "",
        story_pages=pages,
        params={"style": style, "end_text": end_text, "source": source},
        pages=[{"number": p.number, "kind": p.kind, "text": p.text} for p in laid_out],
        total_pages=len(laid_out),
        status=BookStatus.PENDING,
        progress="Waiting for a worker",
    )
    model = get_provider().model
    GeneratedImage.objects.bulk_create(
        GeneratedImage(
            book=book,
            page_number=page.number,
            prompt=(prompt := page_prompt(kind=page.kind, text=page.text, title=book.title, style=style)),
            prompt_hash=prompt_hash(prompt, model),
        )
        for page in laid_out
        if page.illustrated
    )
    _enqueue_drawing(book, pending=sum(1 for page in laid_out if page.illustrated))
    logger.info("book created book=%s owner=%s pages=%s", book.pk, owner.pk, book.total_pages)
    return book


def _queue():
    import django_rq

    return django_rq.get_queue("default")


def _lease_until() -> "timezone.datetime":
    return timezone.now() + timedelta(seconds=settings.IMAGE_LEASE_SECONDS)


def _enqueue_drawing(book: BookJob, *, pending: int) -> None:
    """Enqueue enough draw_pages jobs for every worker that is free to help with this book.

    Each job draws with IMAGE_CONCURRENCY threads; later jobs that find no page left end at once.
    """
    from books import tasks

    per_job = max(1, settings.IMAGE_CONCURRENCY)
    job_ids = [f"book-{book.pk}-draw-{uuid.uuid4().hex[:8]}" for _ in range(max(1, -(-pending // per_job)))]
    BookJob.objects.filter(pk=book.pk).update(rq_job_ids=job_ids, lease_expires_at=_lease_until())

    def enqueue() -> None:
        queue = _queue()
        for job_id in job_ids:
            queue.enqueue(tasks.draw_pages, str(book.pk), job_id=job_id, result_ttl=3600, failure_ttl=86400)

    transaction.on_commit(enqueue)


# ---------------------------------------------------------------- drawing pages


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
    until = _lease_until()
    BookJob.objects.filter(pk=book_id, status__in=IN_PROGRESS).update(lease_expires_at=until)
    if held:
        GeneratedImage.objects.filter(pk__in=list(held), status=ImageStatus.PROCESSING).update(lease_expires_at=until)


def draw_pages(*, book_id) -> None:
    """The body of one draw_pages RQ job: illustrate the book's pending pages until none is left."""
    close_old_connections()
    BookJob.objects.filter(pk=book_id, status=BookStatus.PENDING).update(
        status=BookStatus.PROCESSING, progress=_progress_text(*_page_counts(book_id)), lease_expires_at=_lease_until()
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
        lease_expires_at=_lease_until(),
        updated_at=timezone.now(),
    )
    if claimed:
        # At the front: the book's leftover draw jobs (they find no page and end) and other books'
        # pages must not keep a finished book from its PDFs.
        _queue().enqueue(
            tasks.render_book, str(book_id), job_id=job_id, result_ttl=3600, failure_ttl=86400, at_front=True
        )
        _drop_waiting_jobs(draw_job_ids)
    return bool(claimed)


def _drop_waiting_jobs(job_ids: list[str]) -> None:
    """Delete the round's draw jobs still waiting in the queue: with no page left, each would only take
    a worker for a forked process that finds nothing to do."""
    from rq.job import Job, JobStatus

    try:
        for job in Job.fetch_many(job_ids, connection=_queue().connection):
            if job is not None and job.get_status(refresh=False) == JobStatus.QUEUED:
                job.delete()  # a worker that dequeues it at this very moment skips a job that is gone
    except Exception:  # an optimisation: the jobs would end on their own
        logger.warning("could not drop leftover draw jobs ids=%s", job_ids, exc_info=True)


# ---------------------------------------------------------------- rendering PDFs


def _read_images(images: list[GeneratedImage]) -> dict[str, bytes]:
    """Read every print JPEG once (in parallel: on S3 each read is a round trip)."""

    def read(image: GeneratedImage) -> tuple[str, bytes]:
        with default_storage.open(image.image.name, "rb") as handle:
            return image_url(image.pk), handle.read()

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(pool.map(read, images))


def render_pdfs(book: BookJob) -> dict[str, RenderedPdf]:
    """Both PDFs of a book, with every completed image; pages whose image failed carry text alone."""
    done = {
        image.page_number: image
        for image in book.images.filter(status=ImageStatus.COMPLETED).exclude(image="")
    }
    images = _read_images(list(done.values()))
    pages = [
        PdfPage(
            number=page["number"],
            kind=page["kind"],
            text=page["text"],
            image_url=image_url(done[page["number"]].pk) if page["number"] in done else None,
        )
        for page in book.pages
    ]
    common = {"title": book.title, "author": book.author, "pages": pages, "images": images}
    return {PdfKind.REVIEW: render_review(**common), PdfKind.BOOKLET: render_booklet(**common)}


def _store_pdfs(book: BookJob, rendered: dict[str, RenderedPdf]) -> dict[str, str]:
    """Write the new PDFs under fresh names; on failure remove what was written and re-raise."""
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    written: dict[str, str] = {}
    try:
        for kind, pdf in rendered.items():
            name = f"pdfs/{book.pk}/{kind}-{stamp}-{uuid.uuid4().hex[:8]}.pdf"
            written[kind] = default_storage.save(name, ContentFile(pdf.data))
    except Exception:
        for name in written.values():
            _delete_quietly(name)
        raise
    return written


def _delete_quietly(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception:  # an orphaned object costs a little storage; a raised error here costs the book
        logger.warning("could not delete stored file name=%s", name, exc_info=True)


def render_book(*, book_id) -> None:
    """The body of the render RQ job: render, store under new names, switch, then delete the old files.

    If rendering or storing fails, the book keeps its previous PDFs and is marked failed with a
    readable error; a later regeneration can try again.
    """
    close_old_connections()
    book = BookJob.objects.filter(pk=book_id, rendering=True).first()
    if book is None:
        return
    # Rendering is one step with no heartbeat: give it a lease far longer than any render takes.
    BookJob.objects.filter(pk=book_id).update(
        lease_expires_at=timezone.now() + timedelta(seconds=10 * settings.IMAGE_LEASE_SECONDS)
    )
    try:
        rendered = render_pdfs(book)
        written = _store_pdfs(book, rendered)
    except Exception as exc:
        logger.exception("render failed book=%s", book_id)
        BookJob.objects.filter(pk=book_id).update(
            status=BookStatus.FAILED,
            rendering=False,
            progress="Rendering PDFs failed",
            error=f"Rendering the PDFs failed ({type(exc).__name__}); the previous PDFs are kept. Try again.",
            lease_expires_at=None,
            updated_at=timezone.now(),
        )
        return
    old_names = []
    with transaction.atomic():
        for kind, name in written.items():
            pdf, created = BookPdf.objects.select_for_update().get_or_create(
                book_id=book_id, kind=kind, defaults={"file": name}
            )
            if not created:
                old_names.append(pdf.file.name)
            pdf.file.name = name
            pdf.page_count = rendered[kind].page_count
            pdf.size_bytes = len(rendered[kind].data)
            pdf.created_at = timezone.now()
            pdf.save()
        failed = book.images.filter(status=ImageStatus.FAILED).count()
        BookJob.objects.filter(pk=book_id).update(
            status=BookStatus.COMPLETED,
            rendering=False,
            progress="Book completed" + (f"; {failed} page(s) without an illustration" if failed else ""),
            error="",
            completed_at=timezone.now(),
            lease_expires_at=None,
            updated_at=timezone.now(),
        )
        transaction.on_commit(lambda: [_delete_quietly(name) for name in old_names if name not in written.values()])
    logger.info("book completed book=%s failed_pages=%s", book_id, failed)


# ---------------------------------------------------------------- regeneration


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
        claimed = BookJob.objects.filter(
            pk=book.pk, status__in=[BookStatus.COMPLETED, BookStatus.FAILED]
        ).update(status=BookStatus.PENDING, rendering=False, error="", updated_at=timezone.now())
        if not claimed:  # another request claimed it a moment ago
            book.refresh_from_db()
            return Regeneration(RegenerationOutcome.IN_PROGRESS, book, 0)
        count = reset_for_regeneration(book_id=book.pk)
        if count:
            BookJob.objects.filter(pk=book.pk).update(progress=f"Retrying {count} failed images")
            _enqueue_drawing(book, pending=count)
        else:  # only the render is missing; the lease keeps the recovery sweep off it until then
            BookJob.objects.filter(pk=book.pk).update(progress="Rendering PDFs again", lease_expires_at=_lease_until())
            transaction.on_commit(lambda: finish_round_if_done(book_id=book.pk))
    book.refresh_from_db()
    logger.info("regeneration started book=%s images=%s by=%s", book.pk, count, user.pk)
    return Regeneration(RegenerationOutcome.STARTED, book, count)


# ---------------------------------------------------------------- orphaned books


def _waiting_jobs(job_ids: list[str]) -> bool:
    from rq.job import Job, JobStatus

    if not job_ids:
        return False
    waiting = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
    jobs = Job.fetch_many(job_ids, connection=_queue().connection)
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
