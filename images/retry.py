"""The retry policy: how many calls an image gets, and how long to wait between them.

Our own small class rather than tenacity: the waits must honour the provider's Retry-After,
every call must be recorded with the wait that followed it, and a shared retry budget may
veto a retry. Each of those is one line here and a callback-and-state dance in tenacity.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings

from images.providers.base import ProviderError

T = TypeVar("T")


@dataclass(frozen=True)
class AttemptReport:
    number: int  # 1-based
    error: ProviderError | None  # None: the call succeeded
    started: float  # time.time() when the call began
    duration: float  # seconds
    wait: float | None  # backoff wait that follows, None when no retry follows


class RetriesExhausted(Exception):
    """The last error after every allowed attempt; ``message`` names cause and attempt count."""

    def __init__(self, last: ProviderError, attempts: int):
        self.last = last
        self.attempts = attempts
        if last.retryable and attempts > 1:
            self.message = f"{last.message} after {attempts} attempts"
        else:
            self.message = last.message
        super().__init__(self.message)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    backoff: float = 2.0  # wait after the first failure; doubles each time
    max_backoff: float = 30.0
    jitter: float = 0.25  # up to this share of the wait is added on top, never taken off
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    @classmethod
    def from_settings(cls, **overrides) -> "RetryPolicy":
        values = {
            "attempts": max(1, settings.IMAGE_RETRY_ATTEMPTS),
            "backoff": settings.IMAGE_RETRY_BACKOFF,
            "max_backoff": settings.IMAGE_RETRY_MAX_BACKOFF,
        }
        values.update(overrides)
        return cls(**values)

    def wait_after(self, failure_number: int, error: ProviderError | None = None) -> float:
        """Seconds to wait after the n-th failed call (n from 1): base, 2 x base, ... plus jitter, capped."""
        scheduled = self.backoff * (2 ** (failure_number - 1))
        wait = scheduled * (1 + self.jitter * self.rng.random())
        if error is not None and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return min(wait, self.max_backoff)

    def call(
        self,
        attempt: Callable[[int], T],
        *,
        on_attempt: Callable[[AttemptReport], None] | None = None,
        may_retry: Callable[[], bool] | None = None,
    ) -> T:
        """Run ``attempt(n)`` until it succeeds, fails permanently, or the attempts run out.

        ``may_retry`` lets a shared budget or a provider-wide stop veto a retry; the first call
        is always made.
        """
        for number in range(1, self.attempts + 1):
            started = time.time()
            began = time.monotonic()
            try:
                result = attempt(number)
            except ProviderError as error:
                duration = time.monotonic() - began
                retry = error.retryable and number < self.attempts and (may_retry is None or may_retry())
                wait = self.wait_after(number, error) if retry else None
                if on_attempt:
                    on_attempt(AttemptReport(number, error, started, duration, wait))
                if not retry:
                    raise RetriesExhausted(error, number) from error
                self.sleep(wait)
            else:
                if on_attempt:
                    on_attempt(AttemptReport(number, None, started, time.monotonic() - began, None))
                return result
        raise AssertionError("unreachable: the loop returns or raises")
