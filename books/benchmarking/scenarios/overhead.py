"""Scenario 4: what the pipeline itself costs per image, with a provider that answers at once.

Wall time of many small books over the number of pictures: claiming, HTTP, verifying and
storing each picture, the database rows, the queue, and each book's share of its PDFs.
"""

import time

from books.benchmarking.bookmaking import finished_at, make_book, new_story, wait_for
from books.benchmarking.report import Row
from images.models import GeneratedImage

TARGET_MS = 50


def run(ctx) -> list[Row]:
    config = ctx.config
    pool = ctx.use_workers(config.overhead_workers)
    ctx.settle()
    ctx.provider.reset(latency=0.0)
    stories = [
        new_story(illustrated=config.overhead_pages, label=f"overhead {n}") for n in range(config.overhead_books)
    ]
    started = time.time()
    books = [make_book(owner=ctx.user, story=story) for story in stories]
    books = wait_for(books, timeout=config.book_timeout, pool=pool)
    wall = finished_at(books) - started
    images = GeneratedImage.objects.filter(book__in=[book.pk for book in books]).count()
    per_image_ms = wall / images * 1000
    pdf_ms = ctx.pdf_seconds(books[0]) / config.overhead_pages * 1000
    return [
        Row(
            scenario=4,
            name=f"overhead per image, {config.overhead_books} books x {config.overhead_pages} pages, "
            f"W={config.overhead_workers}, L=0",
            value=per_image_ms,
            unit="ms",
            target=f"< {TARGET_MS} ms",
            ok=per_image_ms < TARGET_MS,
            note=f"{wall:.1f} s for {images} images; rendering the PDFs alone takes {pdf_ms:.0f} ms of one core "
            "per page",
            details={"wall_s": wall, "images": images, "books": len(books), "pdf_ms_per_page": pdf_ms},
        )
    ]
