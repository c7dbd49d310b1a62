"""What one bench run does: every knob of ``manage.py bench`` with its default."""

from dataclasses import asdict, dataclass

ALL_SCENARIOS = (1, 2, 3, 4, 5, 6, 7)


@dataclass(frozen=True)
class BenchConfig:
    scenarios: tuple[int, ...] = ALL_SCENARIOS
    latency: float = 1.0  # provider latency of scenarios 1 and 2, seconds
    pages: int = 24  # illustrated pages of the scenario 1-3 book (cover + content + end)
    workers: tuple[int, ...] = (1, 2, 4)  # scenario 1
    concurrency: int = 4  # IMAGE_CONCURRENCY
    regen_pages: tuple[int, ...] = (1, 5, 20)  # scenario 2: failed pages to regenerate
    regen_workers: int = 4
    overhead_books: int = 100  # scenario 4
    overhead_pages: int = 12
    overhead_workers: int = 2
    memory_pages: int = 52  # scenario 5: the largest book, 50 content pages + cover + end
    fault_books: int = 20  # scenario 6
    fault_pages: int = 12
    fault_rate: float = 0.3
    fault_workers: int = 2
    outage_books: int = 20  # scenario 7
    outage_pages: int = 12
    outage_workers: int = 4
    outage_latency: float = 0.1  # each 503 takes this long, so concurrent calls overlap
    outage_call_cap: int = 4  # IMAGE_MAX_CONCURRENT_CALLS of the capped outage run
    backoff: float = 0.05  # IMAGE_RETRY_BACKOFF of scenarios 6 and 7 (production default: 2 s)
    book_timeout: float = 300.0  # seconds to wait for one scenario's books
    flush_redis: bool = False  # allow emptying Redis db 0

    def as_dict(self) -> dict:
        return asdict(self)
