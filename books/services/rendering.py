"""Rendering a book's PDFs and switching the book to them without ever losing the previous pair."""

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import close_old_connections, transaction
from django.utils import timezone

from books.models import BookJob, BookPdf, BookStatus, PdfKind
from books.pdf import PdfPage, RenderedPdf, image_url, render_booklet, render_review
from images.models import GeneratedImage, ImageStatus

logger = logging.getLogger("bookstudio.books")


def _read_images(images: list[GeneratedImage]) -> dict[str, bytes]:
    """Read every print JPEG once (in parallel: on S3 each read is a round trip)."""

    def read(image: GeneratedImage) -> tuple[str, bytes]:
        with default_storage.open(image.image.name, "rb") as handle:
            return image_url(image.pk), handle.read()

    with ThreadPoolExecutor(max_workers=8) as pool:
        return dict(pool.map(read, images))


def completed_images(book: BookJob) -> dict[int, GeneratedImage]:
    """The book's drawn images by page number."""
    return {image.page_number: image for image in book.images.filter(status=ImageStatus.COMPLETED).exclude(image="")}


def render_with_images(
    book: BookJob, done: dict[int, GeneratedImage], images: dict[str, bytes]
) -> dict[str, RenderedPdf]:
    """Both PDFs of a book from the given picture bytes; pages without a drawn image carry text alone."""
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


def render_pdfs(book: BookJob) -> dict[str, RenderedPdf]:
    """Both PDFs of a book, with every completed image's print JPEG."""
    done = completed_images(book)
    return render_with_images(book, done, _read_images(list(done.values())))


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
