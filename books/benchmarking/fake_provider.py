"""An OpenRouter-compatible image API on 127.0.0.1 with a set latency, scripted failures and counters.

Answers are prepared before the clock starts (a pool of realistic 768x1024 PNGs, each already
wrapped in its JSON body), so the server only sleeps and writes bytes: it is never the bottleneck.
"""

import base64
import hashlib
import json
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from images.providers.local_art import draw_illustration

MODEL = "bench/fake-image-model"
API_KEY = "sk-or-bench-0000000000000000"
# A prompt containing FAIL_PREFIX<digits> fails permanently (HTTP 400) while that word has failures left.
FAIL_PREFIX = "benchfail"
_FAIL_WORD = re.compile(FAIL_PREFIX + r"\d+")


class ImagePool:
    """A few provider images, each ready to send; a prompt always gets the same one."""

    def __init__(self, *, size: int = 24, width: int = 768, height: int = 1024):
        self.pngs = [draw_illustration(f"bench pool picture {i}", width=width, height=height) for i in range(size)]
        self._bodies = [self._body(png) for png in self.pngs]

    @staticmethod
    def _body(png: bytes) -> bytes:
        url = "data:image/png;base64," + base64.b64encode(png).decode()
        message = {"role": "assistant", "content": "", "images": [{"image_url": {"url": url}}]}
        return json.dumps({"model": MODEL, "choices": [{"message": message}]}).encode()

    def _index(self, prompt: str) -> int:
        return int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "big") % len(self.pngs)

    def png_for(self, prompt: str) -> bytes:
        return self.pngs[self._index(prompt)]

    def body_for(self, prompt: str) -> bytes:
        return self._bodies[self._index(prompt)]


@dataclass
class Stats:
    calls: int = 0
    by_status: Counter = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0


class FakeProvider:
    """Set ``latency``, ``outage`` (every call answers 503) and ``fail_first`` (word -> failures left)."""

    def __init__(self, pool: ImagePool):
        self.pool = pool
        self.latency = 0.0
        self.outage = False
        self.fail_first: dict[str, int] = {}
        self.stats = Stats()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="bench-provider", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/v1"

    def start(self) -> "FakeProvider":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self, *, latency: float = 0.0, outage: bool = False, fail_first: dict[str, int] | None = None) -> None:
        with self._lock:
            self.latency = latency
            self.outage = outage
            self.fail_first = dict(fail_first or {})
            self.stats = Stats()

    def answer(self, prompt: str) -> tuple[int, bytes]:
        """Count the call and pick its answer (status, body); the caller sleeps and sends it."""
        with self._lock:
            self.stats.calls += 1
            self.stats.in_flight += 1
            self.stats.max_in_flight = max(self.stats.max_in_flight, self.stats.in_flight)
            if self.outage:
                status, body = 503, _error(503, "Bench outage: the provider is overloaded")
            elif (word := _FAIL_WORD.search(prompt)) and self.fail_first.get(word.group(), 0) > 0:
                self.fail_first[word.group()] -= 1
                status, body = 400, _error(400, "Bench: this page fails on its first call")
            else:
                status, body = 200, self.pool.body_for(prompt)
            self.stats.by_status[status] += 1
        return status, body

    def done(self) -> None:
        with self._lock:
            self.stats.in_flight -= 1


def _error(code: int, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def _handler_for(fake: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the pooled session expects

        def log_message(self, *args) -> None:  # one line per call would drown the report
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                prompt = str(json.loads(raw)["messages"][0]["content"])
            except (ValueError, KeyError, IndexError, TypeError):
                prompt = ""
            status, body = fake.answer(prompt)
            try:
                time.sleep(fake.latency)
            finally:
                # Counted out before the answer leaves, so a caller that got it and freed its slot
                # can never be seen as still in flight next to the caller that takes the slot.
                fake.done()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler
