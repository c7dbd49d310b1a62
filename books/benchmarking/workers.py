"""RQ worker processes for the bench: real ``manage.py rqworker`` processes with the bench's environment."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from rq import Worker

from books.benchmarking.errors import BenchError


def database_url() -> str:
    """The URL of the database this process uses, so the workers write where the bench reads."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "", safe="") + (f":{quote(str(db['PASSWORD']), safe='')}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def child_pids(pid: int) -> list[int]:
    """Direct children of a process (Linux /proc)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return children


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its children that have ended (RQ's job processes), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def peak_rss_kb(pid: int) -> int | None:
    """VmHWM (peak resident set) of a live process, in kB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _kill_tree(pid: int) -> None:
    for child in child_pids(pid):
        _kill_tree(child)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class WorkerPool:
    """``count`` workers on the default queue; ``measure_rss`` wraps each in peak_rss (see there)."""

    def __init__(self, *, count: int, env: dict[str, str], log_dir: Path, measure_rss: bool = False):
        self.count = count
        self.env = env
        self.log_dir = log_dir
        self.measure_rss = measure_rss
        self.processes: list[subprocess.Popen] = []
        self.names: list[str] = []
        self.logs: list[Path] = []
        self.rss_files: list[Path] = []

    def same_as(self, *, count: int, env: dict[str, str]) -> bool:
        return not self.measure_rss and self.count == count and self.env == env and self.alive()

    def alive(self) -> bool:
        return bool(self.processes) and all(process.poll() is None for process in self.processes)

    def start(self, *, timeout: float = 90) -> "WorkerPool":
        """Start the processes and wait until each has registered with RQ; stop them all if one fails."""
        try:
            self._spawn()
            self._wait_registered(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self) -> None:
        for index in range(self.count):
            name = f"bench-{os.getpid()}-{int(time.time() * 1000)}-{index}"
            log = self.log_dir / f"{name}.log"
            args = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "rqworker", "default"]
            args += ["--worker-class", "rq.Worker", "--name", name]
            if self.measure_rss:
                rss_file = self.log_dir / f"{name}.rss.json"
                self.rss_files.append(rss_file)
                args = [sys.executable, "-m", "books.benchmarking.peak_rss", str(rss_file), "--", *args]
            with open(log, "ab") as out:
                self.processes.append(
                    subprocess.Popen(args, cwd=settings.BASE_DIR, env=self.env, stdout=out, stderr=subprocess.STDOUT)
                )
            self.names.append(name)
            self.logs.append(log)

    def _wait_registered(self, timeout: float) -> None:
        import django_rq

        connection = django_rq.get_connection("default")
        deadline = time.monotonic() + timeout
        while not set(self.names) <= {worker.name for worker in Worker.all(connection=connection)}:
            if not self.alive():
                raise BenchError(f"A worker process exited at start.\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"The workers did not register with RQ within {timeout:.0f} s.\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM: finish the current job, then exit); SIGKILL what is left after 3 s.

        rq 3 with redis-py 8 can hang for a minute on the way out, joining its command-channel thread
        (see books/workers.py). Their jobs are short and done by then, so they are killed, innermost first:
        a peak_rss wrapper outlives its worker and still writes its report.
        """
        running = [process for process in self.processes if process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 3
        for process in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.0, deadline - time.monotonic()))
        for process in self.processes:
            if process.poll() is not None:
                continue
            for pid in child_pids(process.pid) if self.measure_rss else [process.pid]:
                _kill_tree(pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
            if process.poll() is None:
                _kill_tree(process.pid)
                process.wait(5)

    def peak_rss_kb(self) -> int:
        """After stop(): the largest peak of any worker or job process (needs measure_rss)."""
        peaks = [json.loads(path.read_text())["peak_rss_kb"] for path in self.rss_files if path.exists()]
        if not peaks:
            raise BenchError(f"No memory report from the workers.\n{self.log_tail()}")
        return max(peaks)

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.worker_pids())

    def worker_pids(self) -> list[int]:
        """The rqworker processes themselves (inside the wrappers when measuring memory)."""
        if not self.measure_rss:
            return [process.pid for process in self.processes]
        return [pid for process in self.processes for pid in child_pids(process.pid)]

    def log_tail(self, chars: int = 3000) -> str:
        text = "".join(log.read_text(errors="replace")[-chars:] for log in self.logs if log.exists())
        return text[-chars:]
