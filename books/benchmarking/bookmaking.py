"""Bench books: unique prompts (so the prompt cache never answers for the provider), waiting, timings."""

import itertools
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Max

from books.benchmarking.errors import BenchError
from books.benchmarking.fake_provider import FAIL_PREFIX
from books.models import IN_PROGRESS, BookJob, BookStatus
from books.pagination import MAX_CONTENT_PAGES
from books.services import create_book
from images.models import GeneratedImage

_fail_numbers = itertools.count(1)


@dataclass(frozen=True)
class Story:
    title: str
    pages: list[str]
    fail_words: list[str]  # script these in FakeProvider.fail_first before the book is made


def new_story(*, illustrated: int, label: str, failing: int = 0) -> Story:
    """A story giving ``illustrated`` pictures (cover + content + end) whose first ``failing``
    content pages carry a fail word; a random tag keeps every prompt new."""
    content = illustrated - 2
    if not 1 <= content <= MAX_CONTENT_PAGES:
        raise BenchError(f"A book has 3 to {MAX_CONTENT_PAGES + 2} illustrated pages, not {illustrated}.")
    if failing > content:
        raise BenchError(f"Only the {content} content pages can be made to fail, not {failing}.")
    tag = secrets.token_hex(4)
    pages, words = [], []
    for number in range(1, content + 1):
        text = f"Page {number} of {tag}: the fox walks to the river and waves at the moon."
        if number <= failing:
            words.append(f"{FAIL_PREFIX}{next(_fail_numbers)}")
            text += f" {words[-1]}"
        pages.append(text)
    return Story(title=f"Bench {label} {tag}", pages=pages, fail_words=words)


def make_book(*, owner, story: Story) -> BookJob:
    return create_book(owner=owner, title=story.title, pages=story.pages, source="bench")


def wait_for(books: Iterable[BookJob], *, timeout: float, pool=None) -> list[BookJob]:
    """Wait until none of the books is pending or processing; raise unless all of them completed."""
    ids = [book.pk for book in books]
    deadline = time.monotonic() + timeout
    unfinished = BookJob.objects.filter(pk__in=ids, status__in=IN_PROGRESS)
    while pending := unfinished.count():
        if pool is not None and not pool.alive() and unfinished.exists():
            raise BenchError(f"A worker process died.\n{pool.log_tail()}")
        if time.monotonic() > deadline:
            tail = pool.log_tail() if pool is not None else ""
            raise BenchError(f"{pending} of {len(ids)} books were unfinished after {timeout:.0f} s.\n{tail}")
        time.sleep(0.02)
    done = list(BookJob.objects.filter(pk__in=ids))
    broken = [book for book in done if book.status != BookStatus.COMPLETED]
    if broken:
        raise BenchError(f"{len(broken)} books failed; the first: {broken[0].error or broken[0].progress}")
    return done


def finished_at(books: Iterable[BookJob]) -> float:
    """When the last of the books had both PDFs stored (epoch seconds, from the worker's clock)."""
    return max(book.completed_at.timestamp() for book in books)


def last_image_at(books: Iterable[BookJob]) -> float:
    """When the last page of the books was drawn or given up."""
    latest = GeneratedImage.objects.filter(book__in=[book.pk for book in books]).aggregate(at=Max("updated_at"))["at"]
    return latest.timestamp()
