"""The limits every worker shares through Redis (real Redis: the embedded one, or REDIS_URL)."""

import threading
import time
import uuid

import pytest

from images.providers.base import TransientProviderError
from images.retry import RetriesExhausted, RetryPolicy
from images.throttle import CallSlots, RetryBudget, redis_connection


def budget(scope: str | None = None, *, max_tokens: float = 10, ratio: float = 1.0) -> RetryBudget:
    return RetryBudget(redis_connection(), scope=scope or uuid.uuid4().hex, max_tokens=max_tokens, ratio=ratio)


def page_under_outage(policy: RetryPolicy, shared: RetryBudget) -> int:
    """One page whose every call fails, drawn the way images.services draws it; returns its calls."""
    calls = 0

    def attempt(number: int):
        nonlocal calls
        calls += 1
        raise TransientProviderError("Provider overloaded (HTTP 503)", http_status=503)

    with pytest.raises(RetriesExhausted):
        policy.call(
            attempt,
            on_attempt=lambda report: shared.record(success=report.error is None),
            may_retry=shared.allows_retry,
        )
    return calls


# ---------------------------------------------------------------- retry budget


def test_a_fresh_budget_allows_retries():
    assert budget().allows_retry()


def test_after_many_failures_retries_are_refused_and_successes_refill_the_bucket():
    shared = budget(max_tokens=10, ratio=1.0)
    for _ in range(4):
        shared.record(success=False)
    assert shared.allows_retry()  # 6 of 10 tokens left: more than half
    shared.record(success=False)
    assert not shared.allows_retry()  # 5 of 10: retries stop
    for _ in range(20):
        shared.record(success=False)
    assert float(shared.connection.get(shared.key)) == 0  # never below empty
    for _ in range(5):
        shared.record(success=True)
    assert not shared.allows_retry()  # back to 5: still not more than half
    shared.record(success=True)
    assert shared.allows_retry()
    for _ in range(50):
        shared.record(success=True)
    assert float(shared.connection.get(shared.key)) == 10  # never above full


def test_a_small_ratio_refills_slowly():
    shared = budget(max_tokens=10, ratio=0.1)
    for _ in range(10):
        shared.record(success=False)
    for _ in range(50):
        shared.record(success=True)
    assert not shared.allows_retry()  # 0 + 50 x 0.1 = 5 tokens
    shared.record(success=True)
    assert shared.allows_retry()


def test_in_an_outage_pages_soon_make_a_single_call_but_never_none():
    shared = budget(max_tokens=10, ratio=1.0)
    policy = RetryPolicy(attempts=3, backoff=0.0)
    calls = [page_under_outage(policy, shared) for _ in range(8)]
    assert calls[0] == 3
    assert calls[-4:] == [1, 1, 1, 1]  # the first call is always made
    assert sum(calls) < 3 * len(calls)
    assert all(c >= 1 for c in calls)
    # The outage ends: successes refill the bucket and pages get their retries again.
    for _ in range(10):
        shared.record(success=True)
    assert page_under_outage(policy, shared) == 3


def test_the_budget_is_shared_by_every_worker_of_a_provider_and_only_that_provider():
    scope = uuid.uuid4().hex
    one, other_worker, other_provider = budget(scope), budget(scope), budget()
    for _ in range(6):
        one.record(success=False)
    assert not other_worker.allows_retry()
    assert other_provider.allows_retry()
    one.reset()
    assert other_worker.allows_retry()


def test_threads_recording_at_once_lose_no_update():
    shared = budget(max_tokens=1000, ratio=1.0)

    def fail_many():
        for _ in range(50):
            shared.record(success=False)

    threads = [threading.Thread(target=fail_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert float(shared.connection.get(shared.key)) == 1000 - 8 * 50


def test_the_budget_setting(settings):
    settings.IMAGE_RETRY_BUDGET_RATIO = 0
    assert RetryBudget.for_provider("openrouter:x") is None
    settings.IMAGE_RETRY_BUDGET_RATIO = 0.5
    settings.IMAGE_RETRY_BUDGET_TOKENS = 8
    shared = RetryBudget.for_provider("openrouter:x")
    assert (shared.max_tokens, shared.ratio) == (8, 0.5)


# ---------------------------------------------------------------- concurrent call slots


def test_never_more_than_limit_holders_across_threads():
    slots = CallSlots(redis_connection(), scope=uuid.uuid4().hex, limit=3, hold_seconds=30)
    lock = threading.Lock()
    holders = 0
    most = 0
    entries = 0

    def call_provider():
        nonlocal holders, most, entries
        for _ in range(5):
            with slots.slot():
                with lock:
                    holders += 1
                    entries += 1
                    most = max(most, holders)
                time.sleep(0.01)
                with lock:
                    holders -= 1

    threads = [threading.Thread(target=call_provider) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert entries == 60
    assert most == 3  # the cap was reached and never passed
    assert slots.connection.zcard(slots.key) == 0  # every slot was given back


def test_a_slot_whose_holder_died_lapses():
    slots = CallSlots(redis_connection(), scope=uuid.uuid4().hex, limit=1, hold_seconds=0.3)
    dead = slots.slot()
    dead.__enter__()  # a worker took the slot and was killed: it never gives it back
    began = time.monotonic()
    with slots.slot():
        waited = time.monotonic() - began
    assert 0.2 <= waited < 5


def test_the_call_slot_setting(settings):
    settings.IMAGE_MAX_CONCURRENT_CALLS = 0
    assert CallSlots.for_provider("openrouter:x") is None
    settings.IMAGE_MAX_CONCURRENT_CALLS = 2
    assert CallSlots.for_provider("openrouter:x").limit == 2
