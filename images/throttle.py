"""Limits shared by every worker through Redis: a retry budget and a cap on concurrent calls.

The retry budget follows gRPC's retry throttling: a bucket of tokens per provider; each failed
call takes one, each successful call gives back ``ratio``; retries are allowed only while the
bucket is more than half full. First calls are never throttled. In a total outage the bucket
drains after a few failures and each page then makes a single call instead of three.
"""

import contextlib
import time
import uuid
from collections.abc import Iterator

import redis
from django.conf import settings

_RECORD = """
local tokens = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
local max = tonumber(ARGV[1])
if ARGV[2] == '1' then tokens = math.min(max, tokens + tonumber(ARGV[3])) else tokens = math.max(0, tokens - 1) end
redis.call('SET', KEYS[1], tostring(tokens), 'EX', 3600)
return tostring(tokens)
"""

_ACQUIRE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], t + tonumber(ARGV[2]), ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 60)
  return 1
end
return 0
"""


def redis_connection() -> redis.Redis:
    import django_rq

    return django_rq.get_connection("default")


class RetryBudget:
    def __init__(self, connection: redis.Redis, *, scope: str, max_tokens: float, ratio: float):
        self.connection = connection
        self.key = f"bookstudio:retry-budget:{scope}"
        self.max_tokens = max_tokens
        self.ratio = ratio
        self._record = connection.register_script(_RECORD)

    @classmethod
    def for_provider(cls, scope: str) -> "RetryBudget | None":
        if settings.IMAGE_RETRY_BUDGET_RATIO <= 0:
            return None
        return cls(
            redis_connection(),
            scope=scope,
            max_tokens=settings.IMAGE_RETRY_BUDGET_TOKENS,
            ratio=settings.IMAGE_RETRY_BUDGET_RATIO,
        )

    def record(self, *, success: bool) -> float:
        return float(self._record(keys=[self.key], args=[self.max_tokens, "1" if success else "0", self.ratio]))

    def allows_retry(self) -> bool:
        tokens = self.connection.get(self.key)
        return tokens is None or float(tokens) > self.max_tokens / 2

    def reset(self) -> None:
        self.connection.delete(self.key)


class CallSlots:
    """A cap on provider calls in flight across all workers; a slot lapses if its holder dies."""

    def __init__(self, connection: redis.Redis, *, scope: str, limit: int, hold_seconds: float):
        self.key = f"bookstudio:call-slots:{scope}"
        self.limit = limit
        self.hold_seconds = hold_seconds
        self._acquire = connection.register_script(_ACQUIRE)
        self.connection = connection

    @classmethod
    def for_provider(cls, scope: str) -> "CallSlots | None":
        if settings.IMAGE_MAX_CONCURRENT_CALLS <= 0:
            return None
        return cls(
            redis_connection(),
            scope=scope,
            limit=settings.IMAGE_MAX_CONCURRENT_CALLS,
            hold_seconds=settings.IMAGE_TIMEOUT + 30,
        )

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        holder = uuid.uuid4().hex
        delay = 0.01
        while not self._acquire(keys=[self.key], args=[self.limit, self.hold_seconds, holder]):
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        try:
            yield
        finally:
            self.connection.zrem(self.key, holder)
