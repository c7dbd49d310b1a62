"""A real S3-compatible server for tests: moto's standalone server (``moto[server]``) in its own
process on 127.0.0.1, buckets on it, and an HTTP proxy in front of it that can fail requests, to
play a storage outage without losing what the server holds."""

import contextlib
import http.client
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import boto3
import requests
from botocore.config import Config

from tests.support.loopback import LoopbackServer

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"  # moto accepts any pair
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MotoServer:
    """``python -m moto.server`` on a free port; everything it stores lives in its memory."""

    def __init__(self, *, log: Path | None = None):
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "MotoServer":
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.process.returncode}")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"{self.url}/moto-api/data.json", timeout=1).ok:
                    return self
            time.sleep(0.1)
        self.stop()
        raise TimeoutError("moto_server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def client(endpoint_url: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=Config(signature_version="s3v4"),
    )


@dataclass
class Bucket:
    name: str
    server_url: str  # moto itself: the tests look at the bucket here, past any fault proxy

    @classmethod
    def create(cls, server_url: str) -> "Bucket":
        bucket = cls(name=f"books-{uuid.uuid4().hex[:12]}", server_url=server_url)
        client(server_url).create_bucket(Bucket=bucket.name)
        return bucket

    def keys(self, prefix: str = "") -> set[str]:
        pages = client(self.server_url).get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def read(self, key: str) -> bytes:
        return client(self.server_url).get_object(Bucket=self.name, Key=key)["Body"].read()

    def storage(self, *, endpoint_url: str | None = None, max_attempts: int | None = None) -> dict:
        """The STORAGES["default"] entry production builds from AWS_* variables, for this bucket.

        ``max_attempts`` caps botocore's retries, so an outage fails in a second, not in minutes.
        """
        from bookstudio.settings import s3_storage

        entry = s3_storage(
            bucket_name=self.name,
            endpoint_url=endpoint_url or self.server_url,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            region_name=REGION,
            querystring_expire=300,
        )
        if max_attempts is not None:
            entry["OPTIONS"]["client_config"] = Config(
                signature_version="s3v4", retries={"mode": "standard", "max_attempts": max_attempts}
            )
        return entry

    def env(self, *, endpoint_url: str | None = None) -> dict[str, str]:
        """The same storage as environment variables, for worker processes."""
        return {
            "AWS_STORAGE_BUCKET_NAME": self.name,
            "AWS_S3_ENDPOINT_URL": endpoint_url or self.server_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_S3_REGION_NAME": REGION,
        }


HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}
Rule = Callable[[str, str], bool]  # (method, path) -> fail this request?


class FaultyProxy(LoopbackServer):
    """An HTTP proxy to an S3 server that answers 503 to the requests ``fail`` picks.

    ``fail = lambda method, path: True`` is a full outage; the server behind keeps its objects.
    """

    def __init__(self, upstream: str):
        self.upstream = upstream.removeprefix("http://")
        self.fail: Rule | None = None
        self.failed: list[tuple[str, str]] = []
        super().__init__(self._handler())

    @property
    def url(self) -> str:
        return self.root

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle(self):
                with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                    super().handle()

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _forward(self) -> None:
                body = self._body()
                rule = proxy.fail
                if rule is not None and rule(self.command, self.path):
                    proxy.failed.append((self.command, self.path))
                    data = b"<Error><Code>ServiceUnavailable</Code><Message>Injected outage</Message></Error>"
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    self.send_response(response.status)
                    for key, value in response.getheaders():
                        if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                            self.send_header(key, value)
                    length = response.getheader("Content-Length") if self.command == "HEAD" else None
                    self.send_header("Content-Length", length or str(len(data)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        return Handler
