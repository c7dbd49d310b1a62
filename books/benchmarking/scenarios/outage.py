"""Scenario 7: a total outage (every call answers 503): calls per page with the retry budget on and
off, and the largest number of concurrent calls the provider saw under IMAGE_MAX_CONCURRENT_CALLS."""

from django.conf import settings

from books.benchmarking.bookmaking import make_book, new_story, wait_for
from books.benchmarking.report import Row
from images.models import GeneratedImage

BUDGET_TARGET = 1.2


def _measure(ctx, *, budget_ratio: float, cap: int) -> tuple[int, int, int]:
    config = ctx.config
    pool = ctx.use_workers(
        config.outage_workers,
        IMAGE_RETRY_BUDGET_RATIO=budget_ratio,
        IMAGE_MAX_CONCURRENT_CALLS=cap,
        IMAGE_RETRY_BACKOFF=config.backoff,
    )
    ctx.settle()
    ctx.provider.reset(latency=config.outage_latency, outage=True)
    label = f"outage budget={budget_ratio:g} cap={cap}"
    books = [make_book(owner=ctx.user, story=new_story(illustrated=config.outage_pages, label=label))
             for _ in range(config.outage_books)]  # fmt: skip
    books = wait_for(books, timeout=config.book_timeout, pool=pool)
    pages = GeneratedImage.objects.filter(book__in=[book.pk for book in books]).count()
    return pages, ctx.provider.stats.calls, ctx.provider.stats.max_in_flight


def run(ctx) -> list[Row]:
    config = ctx.config
    attempts = settings.IMAGE_RETRY_ATTEMPTS
    ratio = settings.IMAGE_RETRY_BUDGET_RATIO or 1.0
    scale = f"{config.outage_books} books x {config.outage_pages} pages, W={config.outage_workers}"
    note = f"{scale}; each 503 takes {config.outage_latency:g} s; IMAGE_RETRY_BACKOFF={config.backoff:g} s"
    rows = []
    for label, budget, target, check in (
        ("retry budget on", ratio, f"<= {BUDGET_TARGET}", lambda v: v <= BUDGET_TARGET),
        ("retry budget off", 0.0, f"= {attempts}", lambda v: abs(v - attempts) < 0.01),
    ):
        pages, calls, most = _measure(ctx, budget_ratio=budget, cap=0)
        rows.append(
            Row(
                scenario=7,
                name=f"calls per page in an outage, {label}",
                value=calls / pages,
                unit="",
                target=target,
                ok=check(calls / pages),
                note=f"{calls} calls for {pages} pages; {note}; most calls at once: {most}",
                details={"pages": pages, "calls": calls, "max_concurrent_calls": most},
            )
        )
    cap = config.outage_call_cap
    pages, calls, most = _measure(ctx, budget_ratio=ratio, cap=cap)
    rows.append(
        Row(
            scenario=7,
            name=f"most concurrent calls in an outage, IMAGE_MAX_CONCURRENT_CALLS={cap}",
            value=most,
            unit="",
            target=f"<= {cap}",
            ok=most <= cap,
            note=f"{calls / pages:.2f} calls per page with the budget on; {note}",
            details={"pages": pages, "calls": calls, "max_concurrent_calls": most},
        )
    )
    return rows
