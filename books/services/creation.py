"""Creating a book: validate and lay out the story, store the job and its pages, enqueue the drawing."""

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from books import pagination
from books.models import BookJob, BookStatus
from books.ratelimit import enforce_rate_limit
from books.services.drawing import enqueue_drawing
from images.models import GeneratedImage
from images.prompts import page_prompt, prompt_hash
from images.providers import get_provider

logger = logging.getLogger("bookstudio.books")

MAX_AUTHOR_CHARS = 200
MAX_STYLE_CHARS = 300
MAX_END_TEXT_CHARS = 100


class InvalidBook(ValueError):
    """Input that cannot become a book. ``errors`` maps each bad field to a readable message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


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
    enqueue_drawing(book, pending=sum(1 for page in laid_out if page.illustrated))
    logger.info("book created book=%s owner=%s pages=%s", book.pk, owner.pk, book.total_pages)
    return book
