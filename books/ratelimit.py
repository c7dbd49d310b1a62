"""Per-user rate limits, counted in Redis so every web process and machine shares them."""

import time

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser

WINDOW_SECONDS = 3600


class RateLimited(Exception):
    def __init__(self, *, action: str, limit: int, retry_after: int):
        self.action = action
        self.limit = limit
        self.retry_after = retry_after
        super().__init__(f"Too many {action} requests: the limit is {limit} an hour. Try again in {retry_after} s.")
        self.message = str(self)


LIMITS = {
    "book": lambda: settings.RATE_LIMIT_BOOKS_PER_HOUR,
    "regeneration": lambda: settings.RATE_LIMIT_REGENERATIONS_PER_HOUR,
}


def enforce_rate_limit(*, user: AbstractBaseUser, action: str) -> None:
    """Count one ``action`` for the user in the current hour; raise RateLimited past the limit.

    Staff are not limited: they act for the studio, for example retrying many books at once.
    """
    limit = LIMITS[action]()
    if user.is_staff or limit <= 0:
        return
    import django_rq

    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"bookstudio:rate:{action}:{user.pk}:{window}"
    connection = django_rq.get_connection("default")
    with connection.pipeline() as pipe:
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS + 60)
        count, _ = pipe.execute()
    if count > limit:
        raise RateLimited(action=action, limit=limit, retry_after=max(1, int((window + 1) * WINDOW_SECONDS - now)))
