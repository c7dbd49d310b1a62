"""Scenario 4: what the pipeline itself costs per image, with a provider that answers at once.

Wall time of many small books over the number of pictures: claiming, HTTP, verifying and
storing each picture, the database rows, the queue, and each book's share of its PDFs. The CPU
the workers used tells whether the run was bound by the machine's cores.
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
    label = f"overhead {config.overhead_pages}"
    stories = [new_story(illustrated=config.overhead_pages, label=label) for _ in range(config.overhead_books)]
    worker_cpu, bench_cpu = pool.cpu_seconds(), time.process_time()
    started = time.time()
    books = [make_book(owner=ctx.user, story=story) for story in stories]
    books = wait_for(books, timeout=config.book_timeout, pool=pool)
    wall = finished_at(books) - started
    ctx.settle()  # the last leftover jobs, so that their CPU is counted too
    worker_cpu, bench_cpu = pool.cpu_seconds() - worker_cpu, time.process_time() - bench_cpu
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
            note=(
                f"{wall:.1f} s for {images} images; CPU per image: workers {worker_cpu / images * 1000:.0f} ms "
                f"(of which PDFs ~{pdf_ms:.0f} ms), bench process with the fake provider "
                f"{bench_cpu / images * 1000:.0f} ms"
            ),
            details={
                "wall_s": wall,
                "images": images,
                "books": len(books),
                "worker_cpu_s": worker_cpu,
                "bench_cpu_s": bench_cpu,
                "pdf_ms_per_page": pdf_ms,
            },
        )
    ]
