"""``manage.py bench``: the speed benchmark. A door: the work is in books/benchmarking/."""

import signal
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from books.benchmarking.config import ALL_SCENARIOS, BenchConfig
from books.benchmarking.errors import BenchError
from books.benchmarking.report import table, write_json
from books.benchmarking.runner import run_bench


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise CommandError(f"Expected comma-separated whole numbers, got {text!r}.") from None


class Command(BaseCommand):
    help = (
        "Benchmark the pipeline against a local fake provider with its own worker processes: book wall "
        "time, regeneration, PDFs, overhead per image, worker memory, retry cost under faults and outages. "
        "Uses DATABASE_URL and REDIS_URL (a spare Redis database: the bench empties it)."
    )

    def add_arguments(self, parser) -> None:
        d = BenchConfig()
        parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
        parser.add_argument("--scenarios", default=",".join(map(str, ALL_SCENARIOS)), help="e.g. 1,3")
        parser.add_argument("--latency", type=float, default=d.latency, help="provider latency, scenarios 1-2")
        parser.add_argument("--pages", type=int, default=d.pages, help="illustrated pages, scenarios 1-3")
        parser.add_argument("--workers", default=",".join(map(str, d.workers)), help="scenario 1 worker counts")
        parser.add_argument("--concurrency", type=int, default=d.concurrency, help="IMAGE_CONCURRENCY")
        parser.add_argument("--regen", default=",".join(map(str, d.regen_pages)), help="scenario 2 failed pages")
        parser.add_argument("--regen-workers", type=int, default=d.regen_workers)
        parser.add_argument("--overhead-books", type=int, default=d.overhead_books, help="scenario 4 books")
        parser.add_argument("--overhead-pages", type=int, default=d.overhead_pages)
        parser.add_argument("--overhead-workers", type=int, default=d.overhead_workers)
        parser.add_argument("--memory-pages", type=int, default=d.memory_pages, help="scenario 5 book size")
        parser.add_argument("--fault-books", type=int, default=d.fault_books)
        parser.add_argument("--fault-pages", type=int, default=d.fault_pages)
        parser.add_argument("--fault-rate", type=float, default=d.fault_rate)
        parser.add_argument("--fault-workers", type=int, default=d.fault_workers)
        parser.add_argument("--outage-books", type=int, default=d.outage_books)
        parser.add_argument("--outage-pages", type=int, default=d.outage_pages)
        parser.add_argument("--outage-workers", type=int, default=d.outage_workers)
        parser.add_argument("--outage-latency", type=float, default=d.outage_latency)
        parser.add_argument("--backoff", type=float, default=d.backoff, help="IMAGE_RETRY_BACKOFF, scenarios 6-7")
        parser.add_argument("--timeout", type=float, default=d.book_timeout, help="seconds to wait for books")
        parser.add_argument("--flush-redis", action="store_true", help="allow emptying Redis db 0")

    def handle(self, *args, **options) -> None:
        config = self._config(options)
        # Stopped by SIGTERM as by Ctrl-C, so the cleanup (workers, rows, files) still runs.
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            result = run_bench(config, log=lambda line: self.stdout.write(line))
        except BenchError as exc:
            raise CommandError(str(exc)) from exc
        except KeyboardInterrupt:
            raise CommandError("Interrupted; the workers, books and files the bench made are cleaned up.") from None
        finally:
            signal.signal(signal.SIGTERM, previous)
        info = result.machine
        self.stdout.write("")
        self.stdout.write(
            f"Machine: {info['cpus']} cores ({info['cpu_model'] or 'unknown CPU'}), {info['memory_gb']} GB; "
            f"{info['database']}, Redis {info['redis']}, WeasyPrint {info['weasyprint']}; "
            f"bench took {result.seconds:.0f} s"
        )
        self.stdout.write("")
        self.stdout.write(table(result.rows))
        for note in result.notes:
            self.stdout.write(f"Note: {note}")
        if options["json"]:
            write_json(
                options["json"], rows=result.rows, config=config.as_dict(), machine_info=info,
                notes=result.notes, seconds=result.seconds,
            )  # fmt: skip
            self.stdout.write(f"Wrote {options['json']}")

    @staticmethod
    def _config(options: dict) -> BenchConfig:
        scenarios = _ints(options["scenarios"])
        unknown = sorted(set(scenarios) - set(ALL_SCENARIOS))
        if unknown or not scenarios:
            raise CommandError(f"--scenarios: choose from {', '.join(map(str, ALL_SCENARIOS))}.")
        return BenchConfig(
            scenarios=scenarios,
            latency=options["latency"],
            pages=options["pages"],
            workers=_ints(options["workers"]),
            concurrency=options["concurrency"],
            regen_pages=_ints(options["regen"]),
            regen_workers=options["regen_workers"],
            overhead_books=options["overhead_books"],
            overhead_pages=options["overhead_pages"],
            overhead_workers=options["overhead_workers"],
            memory_pages=options["memory_pages"],
            fault_books=options["fault_books"],
            fault_pages=options["fault_pages"],
            fault_rate=options["fault_rate"],
            fault_workers=options["fault_workers"],
            outage_books=options["outage_books"],
            outage_pages=options["outage_pages"],
            outage_workers=options["outage_workers"],
            outage_latency=options["outage_latency"],
            backoff=options["backoff"],
            book_timeout=options["timeout"],
            flush_redis=options["flush_redis"],
        )
