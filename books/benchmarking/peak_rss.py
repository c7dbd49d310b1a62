"""Run a command and write the peak resident memory of it and of every process it forked (Linux).

    python -m books.benchmarking.peak_rss OUT.json -- COMMAND...

An RQ worker forks a job process per job and those exit with their memory; the kernel keeps
the largest peak of every reaped descendant in RUSAGE_CHILDREN, so one wrapper process sees them all.
Deliberately free of Django so its own memory does not count.
"""

import json
import resource
import signal
import subprocess
import sys


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    out, command = argv[1], argv[3:]
    child = subprocess.Popen(command)

    def forward(signum, _frame) -> None:  # the bench stops the worker by stopping this wrapper
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = child.wait()
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"peak_rss_kb": peak_kb, "returncode": code}, handle)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
