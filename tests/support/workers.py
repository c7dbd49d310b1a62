"""Real RQ workers for tests: in-process burst workers, and worker processes that can be killed."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import django_rq
from django.conf import settings
from django.db import connection

from books.workers import BurstWorker

ROOT = Path(__file__).resolve().parents[2]


def run_burst_worker(*, max_seconds: float = 120) -> None:
    """Process every queued job in this process (RQ's SimpleWorker, burst mode) until none is left."""
    queue = django_rq.get_queue("default")
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        BurstWorker([queue], connection=queue.connection).work(burst=True, logging_level="WARNING")
        if queue.count == 0:
            return
    raise TimeoutError("the queue did not drain")


def worker_database_url() -> str:
    """The URL of the database the test run uses, for worker processes."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class WorkerProcess:
    """``manage.py rqworker`` in its own process, pointed at the test database."""

    def __init__(self, *, env: dict[str, str] | None = None, burst: bool = False, log: Path | None = None):
        self.env = {
            **os.environ,
            "DATABASE_URL": worker_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            **(env or {}),
        }
        self.args = [sys.executable, str(ROOT / "manage.py"), "rqworker", "default", "--worker-class", "rq.Worker"]
        if burst:
            self.args.append("--burst")
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        """SIGKILL the worker and the job process it forked, as a machine loss would."""
        if self.process and self.process.poll() is None:
            subprocess.run(["pkill", "-KILL", "-P", str(self.process.pid)], check=False)
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def wait(self, timeout: float = 120) -> int:
        assert self.process is not None
        return self.process.wait(timeout)
