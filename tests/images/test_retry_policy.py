"""RetryPolicy on its own: how many calls, how long between them, what it raises.

The policy is driven with real time (tiny backoffs measured with time.monotonic) or with a
recording sleep where only the requested waits matter; the errors are the real provider errors.
"""

import email.utils
import random
import time

import pytest

from images.providers.base import PermanentProviderError, ProviderWideError, TransientProviderError
from images.providers.openrouter import parse_retry_after
from images.retry import RetriesExhausted, RetryPolicy


class Flaky:
    """Fails with the given errors in turn, then returns ``value``; remembers when each call began."""

    def __init__(self, *errors, value="picture"):
        self.errors = list(errors)
        self.value = value
        self.calls: list[float] = []
        self.numbers: list[int] = []

    def __call__(self, number: int):
        self.calls.append(time.monotonic())
        self.numbers.append(number)
        if self.errors:
            raise self.errors.pop(0)
        return self.value


def overloaded() -> TransientProviderError:
    return TransientProviderError("Provider overloaded (HTTP 503)", http_status=503)


class RecordingSleep:
    def __init__(self):
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_success_on_the_first_call_makes_one_call():
    attempt = Flaky()
    assert RetryPolicy(backoff=0.01).call(attempt) == "picture"
    assert attempt.numbers == [1]


def test_fail_fail_succeed_makes_three_calls_and_returns_the_value():
    attempt = Flaky(overloaded(), overloaded(), value="third time")
    reports = []
    assert RetryPolicy(backoff=0.01).call(attempt, on_attempt=reports.append) == "third time"
    assert attempt.numbers == [1, 2, 3]
    assert [r.number for r in reports] == [1, 2, 3]
    assert [r.error is None for r in reports] == [False, False, True]
    assert reports[0].wait is not None and reports[1].wait is not None and reports[2].wait is None


def test_always_failing_makes_exactly_attempts_calls_then_raises_with_the_last_error():
    errors = [overloaded() for _ in range(5)]
    attempt = Flaky(*errors)
    with pytest.raises(RetriesExhausted) as caught:
        RetryPolicy(backoff=0.01).call(attempt)
    assert attempt.numbers == [1, 2, 3]
    assert caught.value.attempts == 3
    assert caught.value.last is errors[2]
    assert caught.value.message == "Provider overloaded (HTTP 503) after 3 attempts"
    assert str(caught.value) == caught.value.message


@pytest.mark.parametrize("attempts", [1, 2, 5])
def test_attempts_setting_is_the_number_of_calls(attempts):
    attempt = Flaky(*[overloaded() for _ in range(10)])
    with pytest.raises(RetriesExhausted) as caught:
        RetryPolicy(attempts=attempts, backoff=0.001).call(attempt)
    assert len(attempt.numbers) == attempts
    # One call is no retry at all: the message does not talk about attempts.
    expected = "Provider overloaded (HTTP 503)" + (f" after {attempts} attempts" if attempts > 1 else "")
    assert caught.value.message == expected


def test_waits_between_attempts_are_at_least_base_then_twice_base():
    base = 0.05
    attempt = Flaky(overloaded(), overloaded())
    RetryPolicy(backoff=base).call(attempt)
    first_gap = attempt.calls[1] - attempt.calls[0]
    second_gap = attempt.calls[2] - attempt.calls[1]
    assert first_gap >= base
    assert second_gap >= 2 * base
    # Jitter adds at most a quarter on top; leave room for a slow machine but catch a runaway wait.
    assert first_gap < base * 1.25 + 0.5
    assert second_gap < 2 * base * 1.25 + 0.5


def test_defaults_are_three_attempts_from_two_seconds_capped_at_thirty():
    policy = RetryPolicy()
    assert (policy.attempts, policy.backoff, policy.max_backoff) == (3, 2.0, 30.0)
    sleep = RecordingSleep()
    with pytest.raises(RetriesExhausted):
        RetryPolicy(sleep=sleep).call(Flaky(*[overloaded() for _ in range(5)]))
    assert len(sleep.waits) == 2  # three calls, two waits
    assert 2.0 <= sleep.waits[0] <= 2.5
    assert 4.0 <= sleep.waits[1] <= 5.0


def test_from_settings_reads_every_retry_setting(settings):
    settings.IMAGE_RETRY_ATTEMPTS = 5
    settings.IMAGE_RETRY_BACKOFF = 0.5
    settings.IMAGE_RETRY_MAX_BACKOFF = 7.0
    policy = RetryPolicy.from_settings()
    assert (policy.attempts, policy.backoff, policy.max_backoff) == (5, 0.5, 7.0)


@pytest.mark.parametrize("configured", [1, 0, -3])
def test_one_attempt_turns_retries_off(settings, configured):
    settings.IMAGE_RETRY_ATTEMPTS = configured
    policy = RetryPolicy.from_settings()
    assert policy.attempts == 1
    attempt = Flaky(overloaded(), value="never reached")
    with pytest.raises(RetriesExhausted) as caught:
        policy.call(attempt)
    assert attempt.numbers == [1]
    assert caught.value.message == "Provider overloaded (HTTP 503)"


def test_jitter_is_never_below_the_schedule_and_the_cap_holds():
    policy = RetryPolicy(backoff=2.0, max_backoff=30.0, rng=random.Random(7))
    for failure in range(1, 8):
        scheduled = 2.0 * 2 ** (failure - 1)
        waits = [policy.wait_after(failure) for _ in range(500)]
        assert min(waits) >= min(scheduled, 30.0)
        assert max(waits) <= min(scheduled * 1.25, 30.0)
        if scheduled * 1.25 <= 30.0:
            assert max(waits) > scheduled  # jitter really is added
    assert policy.wait_after(10) == 30.0  # 1024 s scheduled, capped


def test_jitter_spreads_the_waits_of_many_callers():
    policy = RetryPolicy(backoff=2.0)
    waits = {round(policy.wait_after(1), 6) for _ in range(50)}
    assert len(waits) > 40


def test_retry_after_raises_the_wait_within_the_cap():
    policy = RetryPolicy(backoff=0.1, max_backoff=30.0)
    slow_down = TransientProviderError("Rate limited by the provider (HTTP 429)", http_status=429, retry_after=7)
    assert policy.wait_after(1, slow_down) == 7
    # A Retry-After shorter than the schedule does not shorten it.
    quick = TransientProviderError("Provider overloaded (HTTP 503)", http_status=503, retry_after=0)
    assert 0.1 <= policy.wait_after(1, quick) <= 0.125
    # One longer than the cap is cut to the cap: a page never sleeps for an hour.
    hour = TransientProviderError("Rate limited by the provider (HTTP 429)", http_status=429, retry_after=3600)
    assert policy.wait_after(1, hour) == 30.0


def test_retry_after_is_waited_for_in_real_time():
    attempt = Flaky(TransientProviderError("Rate limited (HTTP 429)", http_status=429, retry_after=0.3))
    reports = []
    RetryPolicy(backoff=0.01, max_backoff=5).call(attempt, on_attempt=reports.append)
    assert attempt.calls[1] - attempt.calls[0] >= 0.3
    assert reports[0].wait == 0.3


def test_retry_after_header_as_seconds_or_http_date():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None
    assert parse_retry_after("soon") is None
    in_ten = email.utils.formatdate(time.time() + 10, usegmt=True)
    assert 8.0 <= parse_retry_after(in_ten) <= 10.0
    past = email.utils.formatdate(time.time() - 100, usegmt=True)
    assert parse_retry_after(past) == 0.0


@pytest.mark.parametrize(
    "error",
    [
        PermanentProviderError("Refused by the provider's content policy (HTTP 400)", http_status=400),
        ProviderWideError("The provider rejected the API key (HTTP 401)", http_status=401),
    ],
)
def test_a_permanent_error_makes_one_call(error):
    attempt = Flaky(error, value="never reached")
    sleep = RecordingSleep()
    reports = []
    with pytest.raises(RetriesExhausted) as caught:
        RetryPolicy(sleep=sleep).call(attempt, on_attempt=reports.append)
    assert attempt.numbers == [1]
    assert sleep.waits == []
    assert caught.value.last is error
    assert caught.value.message == error.message  # no "after 1 attempts"
    assert [r.wait for r in reports] == [None]


def test_may_retry_false_stops_retries_but_not_the_first_call():
    attempt = Flaky(overloaded(), value="never reached")
    asked = []

    def may_retry() -> bool:
        asked.append(True)
        return False

    reports = []
    with pytest.raises(RetriesExhausted) as caught:
        RetryPolicy(backoff=0.01).call(attempt, on_attempt=reports.append, may_retry=may_retry)
    assert attempt.numbers == [1]
    assert asked == [True]
    assert caught.value.attempts == 1
    assert reports[0].wait is None  # recorded as "no retry follows"


def test_may_retry_is_asked_before_every_retry():
    answers = iter([True, False])
    attempt = Flaky(overloaded(), overloaded(), overloaded())
    with pytest.raises(RetriesExhausted) as caught:
        RetryPolicy(backoff=0.001, attempts=5).call(attempt, may_retry=lambda: next(answers))
    assert attempt.numbers == [1, 2]
    assert caught.value.message == "Provider overloaded (HTTP 503) after 2 attempts"


def test_errors_other_than_provider_errors_are_not_retried():
    def broken(number):
        raise KeyError("a bug, not a flaky provider")

    with pytest.raises(KeyError):
        RetryPolicy(backoff=0.001).call(broken)


def test_reports_carry_timing_and_the_wait_that_followed():
    attempt = Flaky(overloaded())
    reports = []
    before = time.time()
    RetryPolicy(backoff=0.02).call(attempt, on_attempt=reports.append)
    assert [r.number for r in reports] == [1, 2]
    assert before <= reports[0].started <= reports[1].started
    assert all(r.duration >= 0 for r in reports)
    assert 0.02 <= reports[0].wait <= 0.025
