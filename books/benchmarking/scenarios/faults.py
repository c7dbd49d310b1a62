"""Scenario 6: what 30% transient faults cost: calls per image and the share of pages that fail.

IMAGE_FAULT_RATE makes the workers' provider fail that share of calls before they leave. With
three attempts the textbook values are 1 + p + p^2 calls per image and p^3 failed pages; the
shared retry budget (images/throttle.py) may cut retries, so the run is repeated without it.
"""

import math

from django.conf import settings

from books.benchmarking.bookmaking import make_book, new_story, wait_for
from books.benchmarking.report import Row
from images.models import GeneratedImage, ImageAttempt, ImageStatus


def _measure(ctx, *, budget_ratio: float) -> tuple[int, int, int]:
    config = ctx.config
    pool = ctx.use_workers(
        config.fault_workers,
        IMAGE_FAULT_RATE=config.fault_rate,
        IMAGE_RETRY_BUDGET_RATIO=budget_ratio,
        IMAGE_RETRY_BACKOFF=config.backoff,
    )
    ctx.settle()
    ctx.provider.reset(latency=0.0)
    label = f"faults budget={budget_ratio:g}"
    books = [make_book(owner=ctx.user, story=new_story(illustrated=config.fault_pages, label=label))
             for _ in range(config.fault_books)]  # fmt: skip
    books = wait_for(books, timeout=config.book_timeout, pool=pool)
    images = GeneratedImage.objects.filter(book__in=[book.pk for book in books])
    calls = ImageAttempt.objects.filter(image__in=images).count()
    return images.count(), calls, images.filter(status=ImageStatus.FAILED).count()


def run(ctx) -> list[Row]:
    config = ctx.config
    p, attempts = config.fault_rate, settings.IMAGE_RETRY_ATTEMPTS
    expected_calls = sum(p**n for n in range(attempts))
    expected_failed = p**attempts
    # Three standard deviations of the mean over n images: what chance alone can move.
    calls_sd = math.sqrt(sum(((n + 1) - expected_calls) ** 2 * _calls_probability(p, attempts, n + 1)
                             for n in range(attempts)))  # fmt: skip
    rows = []
    for ratio in (settings.IMAGE_RETRY_BUDGET_RATIO or 1.0, 0.0):
        label = f"retry budget ratio {ratio:g}" if ratio else "retry budget off"
        count, calls, failed = _measure(ctx, budget_ratio=ratio)
        calls_tolerance = 3 * calls_sd / math.sqrt(count)
        failed_tolerance = 3 * math.sqrt(expected_failed * (1 - expected_failed) / count)
        common = {"images": count, "calls": calls, "failed": failed, "backoff_s": config.backoff}
        rows += [
            Row(
                scenario=6,
                name=f"calls per image at {p:.0%} faults, {label}",
                value=calls / count,
                unit="",
                reference=expected_calls,
                ratio=calls / count / expected_calls,
                target=f"{expected_calls:.2f} +/- {calls_tolerance:.2f}",
                ok=abs(calls / count - expected_calls) <= calls_tolerance,
                note=f"{calls} calls for {count} images; IMAGE_RETRY_BACKOFF={config.backoff:g} s",
                details=common,
            ),
            Row(
                scenario=6,
                name=f"pages failed at {p:.0%} faults, {label}",
                value=failed / count * 100,
                unit="%",
                reference=expected_failed * 100,
                ratio=(failed / count) / expected_failed if expected_failed else None,
                target=f"{expected_failed:.1%} +/- {failed_tolerance:.1%}",
                ok=abs(failed / count - expected_failed) <= failed_tolerance,
                details=common,
            ),
        ]
    return rows


def _calls_probability(p: float, attempts: int, calls: int) -> float:
    """Chance that an image takes exactly ``calls`` calls."""
    if calls < attempts:
        return p ** (calls - 1) * (1 - p)
    return p ** (attempts - 1)
