"""Scenario 1: a book's wall time, from create_book to both PDFs stored, against the ideal.

The ideal: every worker process runs one draw job of IMAGE_CONCURRENCY threads, so the pages go
in rounds of W x C calls of L seconds each, then the PDFs render once.
"""

import math
import time

from books.benchmarking.bookmaking import finished_at, last_image_at, make_book, new_story, wait_for
from books.benchmarking.report import Row

TARGET = 1.3


def parallel_calls(*, pages: int, workers: int, concurrency: int) -> int:
    jobs = math.ceil(pages / concurrency)  # create_book enqueues this many draw jobs
    return min(workers, jobs) * concurrency


def ideal_seconds(*, pages: int, workers: int, concurrency: int, latency: float, pdf: float) -> float:
    rounds = math.ceil(pages / parallel_calls(pages=pages, workers=workers, concurrency=concurrency))
    return rounds * latency + pdf


def run(ctx) -> list[Row]:
    config = ctx.config
    rows = []
    for workers in config.workers:
        pool = ctx.use_workers(workers)
        ctx.settle()
        ctx.provider.reset(latency=config.latency)
        story = new_story(illustrated=config.pages, label=f"wall-time W={workers}")
        started = time.time()
        (book,) = wait_for([make_book(owner=ctx.user, story=story)], timeout=config.book_timeout, pool=pool)
        wall = finished_at([book]) - started
        drawn = last_image_at([book]) - started
        ctx.reference_book = ctx.reference_book or book
        pdf = ctx.pdf_seconds(book)
        parallel = parallel_calls(pages=config.pages, workers=workers, concurrency=config.concurrency)
        ideal = ideal_seconds(
            pages=config.pages, workers=workers, concurrency=config.concurrency, latency=config.latency, pdf=pdf
        )
        sequential = config.pages * config.latency
        rows.append(
            Row(
                scenario=1,
                name=f"book wall time, {config.pages} pages, L={config.latency:g} s, W={workers}",
                value=wall,
                unit="s",
                reference=ideal,
                ratio=wall / ideal,
                target=f"<= {TARGET} x ideal",
                ok=wall / ideal <= TARGET,
                note=(
                    f"ideal = ceil({config.pages}/{parallel}) x {config.latency:g} s + PDFs {pdf:.2f} s; "
                    f"sequential N x L = {sequential:.0f} s; last page done at {drawn:.2f} s, "
                    f"PDFs stored {wall - drawn:.2f} s later"
                ),
                details={
                    "workers": workers,
                    "parallel_calls": parallel,
                    "pdf_s": pdf,
                    "sequential_s": sequential,
                    "pages_drawn_s": drawn,
                    "calls": ctx.provider.stats.calls,
                },
            )
        )
    return rows
