"""Scenario 2: regenerating k failed pages, from start_regeneration to both new PDFs stored.

The k pages fail permanently on their first call (a fail word in their text), so the book
completes with k failed pages; their second call succeeds.
"""

import time

from books.benchmarking.bookmaking import finished_at, make_book, new_story, wait_for
from books.benchmarking.errors import BenchError
from books.benchmarking.report import Row
from books.benchmarking.scenarios.wall_time import TARGET, ideal_seconds, parallel_calls
from books.services import RegenerationOutcome, start_regeneration
from images.models import ImageStatus


def run(ctx) -> list[Row]:
    config = ctx.config
    rows = []
    for failing in config.regen_pages:
        pool = ctx.use_workers(config.regen_workers)
        ctx.settle()
        story = new_story(illustrated=config.pages, label=f"regenerate k={failing}", failing=failing)
        ctx.provider.reset(latency=config.latency, fail_first=dict.fromkeys(story.fail_words, 1))
        (book,) = wait_for([make_book(owner=ctx.user, story=story)], timeout=config.book_timeout, pool=pool)
        failed = book.images.filter(status=ImageStatus.FAILED).count()
        if failed != failing:
            error = book.images.filter(status=ImageStatus.FAILED).values_list("error", flat=True).first()
            raise BenchError(f"The book was to have {failing} failed pages, it has {failed} (one said: {error}).")
        ctx.settle()
        started = time.time()
        regeneration = start_regeneration(book_id=book.pk, user=ctx.user)
        if regeneration.outcome is not RegenerationOutcome.STARTED:
            raise BenchError(f"The regeneration did not start: {regeneration.message}")
        (book,) = wait_for([book], timeout=config.book_timeout, pool=pool)
        still_failed = book.images.filter(status=ImageStatus.FAILED).count()
        wall = finished_at([book]) - started
        pdf = ctx.pdf_seconds(book)
        parallel = parallel_calls(pages=failing, workers=config.regen_workers, concurrency=config.concurrency)
        ideal = ideal_seconds(
            pages=failing, workers=config.regen_workers, concurrency=config.concurrency,
            latency=config.latency, pdf=pdf,
        )  # fmt: skip
        rows.append(
            Row(
                scenario=2,
                name=f"regenerate {failing} of {config.pages} pages, L={config.latency:g} s, W={config.regen_workers}",
                value=wall,
                unit="s",
                reference=ideal,
                ratio=wall / ideal,
                target=f"<= {TARGET} x ideal",
                ok=wall / ideal <= TARGET and still_failed == 0,
                note=f"ideal = ceil({failing}/{parallel}) x {config.latency:g} s + PDFs {pdf:.2f} s"
                + (f"; {still_failed} page(s) still failed" if still_failed else ""),
                details={
                    "failed_pages": failing,
                    "parallel_calls": parallel,
                    "pdf_s": pdf,
                    "still_failed": still_failed,
                },
            )
        )
    return rows
