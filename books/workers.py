"""An RQ worker for running queued jobs inside the current process (makebook, the tests)."""

import django_rq
from rq import SimpleWorker


class BurstWorker(SimpleWorker):
    """SimpleWorker without RQ's command channel (shutdown / kill-horse messages; unused in burst mode).

    Tearing that channel down races with rq 3.0 + redis-py 8.2: the pubsub thread can go back to
    waiting for 60 seconds just before it is joined, which stalled a burst run for a minute.
    """

    def subscribe(self) -> None:
        pass


def drain_queue_here() -> None:
    """Run every job waiting on the default queue in this process, until none is left."""
    queue = django_rq.get_queue("default")
    BurstWorker([queue], connection=queue.connection).work(burst=True, logging_level="WARNING")
