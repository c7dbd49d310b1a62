"""A bounded load test against a real server on 127.0.0.1: clients create books, poll them and
regenerate failed pages; it reports 5xx answers, lost jobs and status-endpoint latency."""

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from books.auth import create_token
from books.models import BookJob

STORY_PAGES = ["A fox found a lantern.", "It glowed all night.", "The owls came to look.", "Morning came softly."]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Client(threading.Thread):
    def __init__(self, base: str, token: str, deadline: float, record):
        super().__init__(daemon=True)
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.base, self.deadline, self.record = base, deadline, record
        self.job_ids: list[str] = []

    def call(self, kind: str, method: str, url: str, **kwargs) -> requests.Response | None:
        started = time.perf_counter()
        try:
            response = self.session.request(method, self.base + url, timeout=30, **kwargs)
        except requests.RequestException as exc:
            self.record(kind, time.perf_counter() - started, f"error:{type(exc).__name__}")
            return None
        self.record(kind, time.perf_counter() - started, response.status_code)
        return response

    def run(self) -> None:
        job = None
        while time.monotonic() < self.deadline:
            if job is None:
                # A title of its own per book: identical prompts would be served from the image cache.
                body = {"title": f"Load {self.name} {len(self.job_ids)}", "pages": STORY_PAGES}
                response = self.call("create", "POST", "/api/v1/books", json=body)
                if response is not None and response.status_code == 202:
                    job = response.json()["job_id"]
                    self.job_ids.append(job)
                continue
            response = self.call("status", "GET", f"/api/v1/books/{job}")
            if response is not None and response.status_code == 200:
                status = response.json()
                if status["status"] == "completed" and status["failed_image_count"]:
                    self.call("regenerate", "POST", f"/api/v1/books/{job}/regenerate")
                elif status["status"] in ("completed", "failed"):
                    job = None
            time.sleep(0.25)


class Command(BaseCommand):
    help = "Load-test a real server on 127.0.0.1 (bounded): create, poll and regenerate books."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--clients", type=int, default=50)
        parser.add_argument("--seconds", type=float, default=60)
        parser.add_argument("--rq-workers", type=int, default=2)
        parser.add_argument("--fault-rate", type=float, default=0.2, help="share of image calls that fail")
        parser.add_argument("--json", type=Path, default=None)

    def handle(self, *args, **options) -> None:
        if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
            self.stderr.write("Warning: SQLite serializes writes; use DATABASE_URL on PostgreSQL for real figures.")
        media = Path(tempfile.mkdtemp(prefix="bookstudio-load-"))
        port = _free_port()
        env = {
            **os.environ, "MEDIA_ROOT": str(media), "AWS_STORAGE_BUCKET_NAME": "", "IMAGE_PROVIDER": "local",
            "IMAGE_FAULT_RATE": str(options["fault_rate"]), "IMAGE_RETRY_ATTEMPTS": "1",
            "RATE_LIMIT_BOOKS_PER_HOUR": "0", "RATE_LIMIT_REGENERATIONS_PER_HOUR": "0", "REDIS_URL": settings.REDIS_URL,
            "DEBUG": "0", "SECRET_KEY": "load-test-only", "LOG_LEVEL": "WARNING",
        }  # fmt: skip
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        gunicorn = [str(Path(sys.executable).parent / "gunicorn"), "bookstudio.wsgi", "-b", f"127.0.0.1:{port}"]
        worker = [*manage, "rqworker", "default", "--worker-class", "rq.Worker"]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        processes = [
            subprocess.Popen([*gunicorn, "-w", "2", "--threads", "8"], cwd=settings.BASE_DIR, env=env),
            *[subprocess.Popen(worker, env=env, **quiet) for _ in range(options["rq_workers"])],
        ]
        users = [
            get_user_model().objects.create_user(username=f"loadtest-{n}-{port}") for n in range(options["clients"])
        ]
        try:
            base = f"http://127.0.0.1:{port}"
            self._wait_for(base)
            report = self._run(base, users, options)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
            get_user_model().objects.filter(pk__in=[u.pk for u in users]).delete()
            shutil.rmtree(media, ignore_errors=True)
        self._print(report)
        if options["json"]:
            options["json"].write_text(json.dumps(report, indent=2))

    def _wait_for(self, base: str) -> None:
        for _ in range(100):
            try:
                requests.get(base + "/api/v1/books", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def _run(self, base: str, users, options) -> dict:
        latencies: dict[str, list[float]] = defaultdict(list)
        statuses: Counter = Counter()
        lock = threading.Lock()

        def record(kind: str, seconds: float, status) -> None:
            with lock:
                latencies[kind].append(seconds)
                statuses[(kind, str(status))] += 1

        deadline = time.monotonic() + options["seconds"]
        clients = [Client(base, create_token(user=user, name="load")[1], deadline, record) for user in users]
        for client in clients:
            client.start()
        for client in clients:
            client.join(options["seconds"] + 60)
        job_ids = [job for client in clients for job in client.job_ids]
        settle = time.monotonic() + 120  # let the workers finish what was asked
        unfinished = BookJob.objects.filter(pk__in=job_ids, status__in=["pending", "processing"])
        while time.monotonic() < settle and unfinished.exists():
            time.sleep(1)
        final = Counter(BookJob.objects.filter(pk__in=job_ids).values_list("status", flat=True))
        return {
            "clients": options["clients"],
            "seconds": options["seconds"],
            "requests": {kind: len(values) for kind, values in latencies.items()},
            "answers": {f"{kind} {status}": n for (kind, status), n in sorted(statuses.items())},
            "server_errors": sum(n for (kind, status), n in statuses.items() if status.startswith("5")),
            "transport_errors": sum(n for (kind, status), n in statuses.items() if status.startswith("error")),
            "latency_ms": {
                kind: {
                    "p50": round(statistics.median(values) * 1000, 1),
                    "p95": round(_percentile(values, 0.95) * 1000, 1),
                    "p99": round(_percentile(values, 0.99) * 1000, 1),
                }
                for kind, values in latencies.items()
            },
            "jobs_created": len(job_ids),
            "jobs_found": sum(final.values()),
            "jobs_final_status": dict(final),
        }

    def _print(self, report: dict) -> None:
        self.stdout.write(f"Load test: {report['clients']} clients for {report['seconds']:g} s on 127.0.0.1")
        self.stdout.write(f"{'endpoint':<12}{'requests':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}")
        for kind, figures in report["latency_ms"].items():
            self.stdout.write(
                f"{kind:<12}{report['requests'][kind]:>10}{figures['p50']:>10}{figures['p95']:>10}{figures['p99']:>10}"
            )
        self.stdout.write(f"answers: {report['answers']}")
        self.stdout.write(
            f"5xx: {report['server_errors']}  transport errors: {report['transport_errors']}  "
            f"jobs created: {report['jobs_created']}  found: {report['jobs_found']}  "
            f"final: {report['jobs_final_status']}"
        )
