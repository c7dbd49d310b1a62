"""Reads: which books a user may see, and the status document the pages and the API show."""

import uuid

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet
from django.urls import reverse

from books.models import BookJob, BookPdf
from images.models import GeneratedImage, ImageStatus


def books_for_user(user: AbstractBaseUser | AnonymousUser) -> QuerySet[BookJob]:
    """The user's own books, newest first, with their image counts."""
    if not user.is_authenticated:
        return BookJob.objects.none()
    return BookJob.objects.filter(owner=user).annotate(
        failed_image_count=Count("images", filter=Q(images__status=ImageStatus.FAILED)),
        completed_image_count=Count("images", filter=Q(images__status=ImageStatus.COMPLETED)),
        image_count=Count("images"),
    ).order_by("-created_at", "-pk")  # an aggregate query ignores Meta.ordering


def book_for_user(
    user: AbstractBaseUser | AnonymousUser, book_id: object, *, allow_staff: bool = False
) -> BookJob | None:
    """The book if this user may see it; None for unknown ids, other users' books and non-UUIDs."""
    try:
        pk = uuid.UUID(str(book_id))
    except ValueError:
        return None
    if not user.is_authenticated:
        return None
    books = BookJob.objects.all() if (allow_staff and user.is_staff) else BookJob.objects.filter(owner=user)
    return books.filter(pk=pk).first()


def failed_images(book: BookJob) -> QuerySet[GeneratedImage]:
    return book.images.filter(status=ImageStatus.FAILED)


def image_counts(book: BookJob) -> dict[str, int]:
    counts = dict.fromkeys(ImageStatus.values, 0)
    for row in book.images.values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    counts["total"] = sum(counts[s] for s in ImageStatus.values)
    return counts


def book_pages(book: BookJob) -> list[dict]:
    """Every page in reading order with its image's state, for the book page and the API."""
    images = {image.page_number: image for image in book.images.all()}
    pages = []
    for page in book.pages:
        image = images.get(page["number"])
        entry = {"number": page["number"], "kind": page["kind"], "text": page["text"], "image": None}
        if image is not None:
            done = image.status == ImageStatus.COMPLETED and bool(image.image)
            entry["image"] = {
                "id": str(image.pk),
                "status": image.status,
                "error": image.error,
                "retry_attempt": image.retry_attempt,
                "retried_at": image.retried_at.isoformat() if image.retried_at else None,
                "cached": image.cached,
                "url": reverse("books:image", args=[book.pk, page["number"]]) if done else None,
                "thumbnail_url": reverse("books:thumbnail", args=[book.pk, page["number"]]) if done else None,
            }
        pages.append(entry)
    return pages


def book_status(book: BookJob) -> dict:
    """The status document: the same dict feeds the JSON API and the book page's live updates."""
    counts = image_counts(book)
    pdfs = {pdf.kind: pdf for pdf in BookPdf.objects.filter(book=book)}
    return {
        "job_id": str(book.pk),
        "title": book.title,
        "author": book.author,
        "language": book.language,
        "status": book.status,
        "progress": book.progress,
        "error": book.error,
        "total_pages": book.total_pages,
        "images_total": counts["total"],
        "images_done": counts[ImageStatus.COMPLETED] + counts[ImageStatus.FAILED],
        "completed_image_count": counts[ImageStatus.COMPLETED],
        "failed_image_count": counts[ImageStatus.FAILED],
        "created_at": book.created_at.isoformat(),
        "updated_at": book.updated_at.isoformat(),
        "completed_at": book.completed_at.isoformat() if book.completed_at else None,
        "pages": book_pages(book),
        "pdfs": {
            kind: {
                "url": reverse("books:pdf", args=[book.pk, kind]),
                "page_count": pdf.page_count,
                "size_bytes": pdf.size_bytes,
                "created_at": pdf.created_at.isoformat(),
            }
            for kind, pdf in pdfs.items()
        },
    }
