"""Scenario 5: peak resident memory of a worker making the largest book (drawing and both PDFs).

The worker runs under books.benchmarking.peak_rss, which sees the peak of the worker and of every
job process it forked.
"""

from books.benchmarking.bookmaking import make_book, new_story, wait_for
from books.benchmarking.report import Row
from books.benchmarking.workers import peak_rss_kb

TARGET_MB = 400


def run(ctx) -> list[Row]:
    config = ctx.config
    ctx.stop_workers()
    ctx.settle()
    ctx.provider.reset(latency=0.0)
    story = new_story(illustrated=config.memory_pages, label="memory")
    book = make_book(owner=ctx.user, story=story)
    pool = ctx.use_workers(1, measure_rss=True)
    wait_for([book], timeout=config.book_timeout, pool=pool)
    main_kb = max((peak_rss_kb(pid) or 0 for pid in pool.worker_pids()), default=0)
    ctx.stop_workers()
    peak_mb = pool.peak_rss_kb() / 1024
    return [
        Row(
            scenario=5,
            name=f"peak memory of a worker making a {len(book.pages)}-page book",
            value=peak_mb,
            unit="MB",
            target=f"< {TARGET_MB} MB",
            ok=peak_mb < TARGET_MB,
            note=f"largest VmHWM of the worker and its job processes; the rqworker itself: {main_kb / 1024:.0f} MB",
            details={"peak_kb": round(peak_mb * 1024), "worker_process_kb": main_kb, "pages": len(book.pages)},
        )
    ]
