"""One module per scenario; each ``run(ctx)`` returns its rows of the report."""

from books.benchmarking.scenarios import faults, memory, outage, overhead, pdfs, regeneration, wall_time

SCENARIOS = {
    1: wall_time.run,
    2: regeneration.run,
    3: pdfs.run,
    4: overhead.run,
    5: memory.run,
    6: faults.run,
    7: outage.run,
}
