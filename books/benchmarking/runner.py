"""Run the chosen scenarios in one bench context and collect their rows."""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from books.benchmarking.config import BenchConfig
from books.benchmarking.context import BenchContext
from books.benchmarking.report import Row, machine
from books.benchmarking.scenarios import SCENARIOS


@dataclass
class BenchResult:
    rows: list[Row]
    notes: list[str]
    machine: dict
    seconds: float


def run_bench(config: BenchConfig, *, log: Callable[[str], None]) -> BenchResult:
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    rows: list[Row] = []
    with BenchContext(config, log=log) as ctx:
        info = machine()
        for number in sorted(config.scenarios):
            run = SCENARIOS[number]
            log(f"Scenario {number}: {run.__module__.rsplit('.', 1)[-1].replace('_', ' ')}")
            began = time.monotonic()
            rows += run(ctx)
            log(f"  finished in {time.monotonic() - began:.0f} s")
        info["load_average_before"] = round(load_before, 2)
        notes = [
            *ctx.notes,
            *_busy_note(load_before, cpus=os.cpu_count() or 1),
            f"Scenarios 6 and 7 wait IMAGE_RETRY_BACKOFF={config.backoff:g} s between calls (production: 2 s) "
            "to keep the run short.",
        ]
    return BenchResult(rows=rows, notes=notes, machine=info, seconds=time.monotonic() - started)


def _busy_note(load: float, *, cpus: int) -> list[str]:
    if load < cpus / 2:
        return []
    return [
        f"The machine was busy before the bench started (load average {load:.1f} on {cpus} cores): other "
        "processes competed for the CPU, so the timings are pessimistic."
    ]
