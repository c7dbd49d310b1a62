"""A fake OpenRouter on 127.0.0.1: real sockets, real HTTP, answers scripted per prompt."""

import base64
import contextlib
import hashlib
import io
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from PIL import Image

from tests.support.loopback import LoopbackServer


def png_bytes(seed: str, size: tuple[int, int] = (96, 128)) -> bytes:
    digest = hashlib.sha256(seed.encode()).digest()
    image = Image.new("RGB", size, tuple(digest[:3]))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@dataclass
class Answer:
    status: int = 200
    body: dict | str | bytes | None = None  # None: a good image for the prompt
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


def image_body(prompt: str) -> dict:
    data_url = "data:image/png;base64," + base64.b64encode(png_bytes(prompt)).decode()
    return {
        "model": "fake/image-model",
        "choices": [{"message": {"role": "assistant", "content": "", "images": [{"image_url": {"url": data_url}}]}}],
    }


def error_body(code: int, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


@dataclass
class Call:
    prompt: str
    at: float
    authorization: str
    body: dict


class FakeOpenRouter(LoopbackServer):
    """Scripts: ``script(substring, [Answer, ...])`` answers calls whose prompt contains the
    substring with those answers in turn (the last one repeats). Other prompts get ``default``."""

    def __init__(self, *, latency: float = 0.0):
        self.latency = latency
        self.default = Answer()
        self.calls: list[Call] = []
        self._scripts: list[tuple[str, list[Answer]]] = []
        self._lock = threading.Lock()
        super().__init__(self._handler())

    @property
    def url(self) -> str:
        return f"{self.root}/api/v1"

    def script(self, substring: str, answers: list[Answer]) -> None:
        with self._lock:
            self._scripts.append((substring, list(answers)))

    def calls_for(self, substring: str) -> list[Call]:
        return [call for call in self.calls if substring in call.prompt]

    def _answer_for(self, prompt: str) -> Answer:
        with self._lock:
            for substring, answers in self._scripts:
                if substring in prompt:
                    return answers.pop(0) if len(answers) > 1 else answers[0]
        return self.default

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                    prompt = body["messages"][0]["content"]
                except (ValueError, KeyError, IndexError, TypeError):
                    body, prompt = {}, ""
                with fake._lock:
                    fake.calls.append(Call(prompt, time.time(), self.headers.get("Authorization", ""), body))
                answer = fake._answer_for(prompt)
                time.sleep(fake.latency + answer.delay)
                payload = answer.body if answer.body is not None else image_body(prompt)
                if isinstance(payload, dict):
                    data = json.dumps(payload).encode()
                elif isinstance(payload, str):
                    data = payload.encode()
                else:
                    data = payload
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

        return Handler
