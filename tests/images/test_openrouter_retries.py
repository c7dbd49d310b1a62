"""The openrouter provider under the retry policy, against a fake OpenRouter over real sockets.

Every test makes a real book (create_book) and drains the queue with a real RQ worker; the fake
server scripts the answers per page (a page's prompt contains its text) and records each call.
"""

import base64
import email.utils
import io
import json
import logging
import re
import socket
import struct
import threading
import time
import zlib

import pytest

from books.models import BookStatus
from books.services import create_book
from images.models import AttemptOutcome, GeneratedImage, ImageAttempt, ImageStatus
from tests.support.fake_openrouter import Answer, Call, FakeOpenRouter, error_body, image_body

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "sk-or-test-secret-key-0123456789"  # what the fake_openrouter fixture sets


# ---------------------------------------------------------------- helpers


def make_book(user, run_worker, *texts: str, title: str = "Retry Drill"):
    book = create_book(owner=user, title=title, pages=list(texts))
    run_worker()
    book.refresh_from_db()
    return book


def page(book, word: str) -> GeneratedImage:
    return GeneratedImage.objects.get(book=book, prompt__contains=word)


def attempts(image: GeneratedImage) -> list[ImageAttempt]:
    return list(image.attempts.order_by("round", "number"))


def data_url(data: bytes) -> dict:
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    return {"model": "fake/image-model", "choices": [{"message": {"images": [{"image_url": {"url": url}}]}}]}


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A valid 1-bit PNG of width x height: ~50 KB on the wire, hundreds of MB once decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def text_only() -> dict:
    return {"model": "fake/image-model", "choices": [{"message": {"role": "assistant", "content": "Once upon a time"}}]}


def point_provider_at(settings, url: str) -> None:
    settings.IMAGE_PROVIDER = "openrouter"
    settings.OPENROUTER_BASE_URL = url
    settings.OPENROUTER_API_KEY = KEY
    settings.IMAGE_MODEL = "fake/image-model"


@pytest.fixture(autouse=True)
def _no_budget(settings):
    """The shared retry budget has its own tests; here every page gets its full attempts."""
    settings.IMAGE_RETRY_BUDGET_RATIO = 0


class HangingUpServer(FakeOpenRouter):
    """The fake OpenRouter, but it reads the first ``hangups`` requests and closes the connection
    without a word, the way a crashed load balancer does."""

    def __init__(self, hangups: int):
        self.hangups = hangups
        super().__init__()

    def _handler(self):
        fake = self
        base = super()._handler()

        class Handler(base):
            def do_POST(self):
                with fake._lock:
                    hang_up = fake.hangups > 0
                    fake.hangups -= hang_up
                if not hang_up:
                    return super().do_POST()
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw)
                with fake._lock:
                    fake.calls.append(Call(body["messages"][0]["content"], time.time(), "", body))
                self.close_connection = True  # no status line, no body: the client sees the socket close

        return Handler


# ---------------------------------------------------------------- transient failures are retried

TRANSIENT = {
    "http-408": (Answer(408, error_body(408, "Request timeout")), 408, "Provider request timeout (HTTP 408)"),
    "http-425": (Answer(425, error_body(425, "Too early")), 425, "Provider asked to retry later (HTTP 425)"),
    "http-429": (Answer(429, error_body(429, "Slow down")), 429, "Rate limited by the provider (HTTP 429)"),
    "http-500": (Answer(500, error_body(500, "Internal error")), 500, "Provider error (HTTP 500)"),
    "http-502": (Answer(502, "<html>Bad gateway</html>"), 502, "Provider upstream error (HTTP 502)"),
    "http-503": (Answer(503, error_body(503, "Overloaded")), 503, "Provider overloaded (HTTP 503)"),
    "http-504": (Answer(504, error_body(504, "Gateway timeout")), 504, "Provider gateway timeout (HTTP 504)"),
    "200-error-object": (Answer(200, error_body(503, "Upstream overloaded")), 503, "Provider overloaded (HTTP 503)"),
    "200-error-object-502": (Answer(200, error_body(502, "Upstream")), 502, "Provider upstream error (HTTP 502)"),
    "200-text-only": (Answer(200, text_only()), None, "The model answered without an image"),
    "200-not-an-image": (
        Answer(200, data_url(b"this is not a picture at all")),
        None,
        "The provider's answer was not a decodable image",
    ),
    "200-not-json": (Answer(200, "<html>maintenance</html>"), None, "The model answered without an image"),
    "200-decompression-bomb": (
        Answer(200, data_url(png_bomb())),
        None,
        "The provider's answer was not a decodable image",
    ),
    "200-too-many-pixels": (
        Answer(200, data_url(png_bomb(5000, 5000))),
        None,
        "The provider's image was too large (5000x5000 pixels)",
    ),
}


@pytest.mark.parametrize("failure", list(TRANSIENT.values()), ids=list(TRANSIENT))
def test_a_transient_failure_is_retried_then_the_page_succeeds(user, run_worker, fake_openrouter, failure):
    answer, status, message = failure
    fake_openrouter.script("Marmalade", [answer, answer, Answer()])
    book = make_book(user, run_worker, "The Marmalade cat sat on the mat.")

    assert book.status == BookStatus.COMPLETED, book.error
    image = page(book, "Marmalade")
    assert image.status == ImageStatus.COMPLETED and image.error == ""
    assert image.size_bytes > 0 and 0 < image.width <= 1024
    assert len(fake_openrouter.calls_for("Marmalade")) == 3
    recorded = attempts(image)
    assert [(a.number, a.outcome, a.http_status) for a in recorded] == [
        (1, AttemptOutcome.TRANSIENT, status),
        (2, AttemptOutcome.TRANSIENT, status),
        (3, AttemptOutcome.SUCCESS, None),
    ]
    assert recorded[0].error == recorded[1].error == message
    assert recorded[0].wait_seconds is not None and recorded[1].wait_seconds is not None
    assert recorded[2].wait_seconds is None and recorded[2].error == ""


def test_a_transient_failure_on_every_call_fails_the_page_after_three_attempts(user, run_worker, fake_openrouter):
    fake_openrouter.script("Marmalade", [Answer(503, error_body(503, "Overloaded"))])
    book = make_book(user, run_worker, "The Marmalade cat sat on the mat.")

    assert book.status == BookStatus.COMPLETED  # the book still prints, that page with text alone
    assert "1 page(s) without an illustration" in book.progress
    image = page(book, "Marmalade")
    assert image.status == ImageStatus.FAILED
    assert image.error == "Provider overloaded (HTTP 503) after 3 attempts"
    assert len(fake_openrouter.calls_for("Marmalade")) == 3
    assert [a.outcome for a in attempts(image)] == [AttemptOutcome.TRANSIENT] * 3
    assert attempts(image)[-1].wait_seconds is None


def test_a_timeout_is_retried(user, run_worker, fake_openrouter, settings):
    settings.IMAGE_TIMEOUT = 0.3
    fake_openrouter.script("Marmalade", [Answer(delay=1), Answer()])
    book = make_book(user, run_worker, "The Marmalade cat sat on the mat.")

    image = page(book, "Marmalade")
    assert image.status == ImageStatus.COMPLETED
    calls = fake_openrouter.calls_for("Marmalade")
    assert len(calls) == 2
    first, second = attempts(image)
    assert (first.outcome, first.http_status, first.error) == (
        AttemptOutcome.TRANSIENT,
        None,
        "Provider timed out after 0.3 s",
    )
    assert 250 <= first.duration_ms < 1000  # gave up at the timeout, did not wait for the answer
    assert second.outcome == AttemptOutcome.SUCCESS


def test_a_dropped_connection_is_retried(user, run_worker, settings):
    server = HangingUpServer(hangups=2).start()
    try:
        point_provider_at(settings, server.url)
        settings.IMAGE_CONCURRENCY = 1  # pages in order: the cover takes both hang-ups
        book = make_book(user, run_worker, "The Marmalade cat sat on the mat.")
    finally:
        server.stop()

    assert book.status == BookStatus.COMPLETED
    cover = GeneratedImage.objects.get(book=book, page_number=1)
    assert cover.status == ImageStatus.COMPLETED
    assert [(a.outcome, a.http_status, a.error) for a in attempts(cover)] == [
        (AttemptOutcome.TRANSIENT, None, "Could not connect to the provider"),
        (AttemptOutcome.TRANSIENT, None, "Could not connect to the provider"),
        (AttemptOutcome.SUCCESS, None, ""),
    ]
    assert len(server.calls) == ImageAttempt.objects.filter(image__book=book).count()
    assert not GeneratedImage.objects.filter(book=book).exclude(status=ImageStatus.COMPLETED).exists()


def test_a_closed_port_is_retried_then_every_page_fails_readably(user, run_worker, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    point_provider_at(settings, f"http://127.0.0.1:{port}/api/v1")  # nothing listens there now
    book = make_book(user, run_worker, "The Marmalade cat sat on the mat.")

    assert book.status == BookStatus.COMPLETED
    images = list(GeneratedImage.objects.filter(book=book))
    assert images and all(i.status == ImageStatus.FAILED for i in images)
    for image in images:
        assert image.error == "Could not connect to the provider after 3 attempts"
        assert [(a.outcome, a.http_status) for a in attempts(image)] == [(AttemptOutcome.TRANSIENT, None)] * 3


class CutOffServer:
    """A bare HTTP server: the first answer stops halfway through its body, later ones are whole."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/api/v1"
        self.prompts: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed by stop()
                return
            with client:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += client.recv(65536)
                head, _, body = request.partition(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                while len(body) < length:
                    body += client.recv(65536)
                prompt = json.loads(body)["messages"][0]["content"]
                self.prompts.append(prompt)
                answer = json.dumps(image_body(prompt)).encode()
                head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(answer)}\r\n"
                if len(self.prompts) == 1:
                    client.sendall(head.encode() + b"\r\n" + answer[:40])  # then the socket closes
                else:
                    client.sendall(head.encode() + b"Connection: close\r\n\r\n" + answer)

    def stop(self) -> None:
        self.listener.close()


def test_a_connection_cut_mid_answer_is_retried(user, run_worker, settings):
    server = CutOffServer()
    try:
        point_provider_at(settings, server.url)
        settings.IMAGE_CONCURRENCY = 1  # pages in order: the cover gets the cut-off answer
        book = make_book(user, run_worker, "The Marmalade cat sat on the mat.")
    finally:
        server.stop()

    assert book.status == BookStatus.COMPLETED
    cover = GeneratedImage.objects.get(book=book, page_number=1)
    assert cover.status == ImageStatus.COMPLETED, cover.error
    assert [(a.outcome, a.http_status, a.error) for a in attempts(cover)] == [
        (AttemptOutcome.TRANSIENT, None, "The connection to the provider broke off mid-answer"),
        (AttemptOutcome.SUCCESS, None, ""),
    ]
    assert len(server.prompts) == ImageAttempt.objects.filter(image__book=book).count()


# ---------------------------------------------------------------- permanent failures are not

PERMANENT = {
    "400-content-policy": (
        Answer(400, error_body(400, "Your request was flagged by our content policy")),
        400,
        "Refused by the provider's content policy (HTTP 400): Your request was flagged by our content policy",
    ),
    "400-bad-request": (
        Answer(400, error_body(400, "messages[0] is malformed")),
        400,
        "Request rejected by the provider (HTTP 400): messages[0] is malformed",
    ),
    "401": (
        Answer(401, error_body(401, "No auth credentials found")),
        401,
        "The provider rejected the API key (HTTP 401)",
    ),
    "402": (
        Answer(402, error_body(402, "Insufficient credits")),
        402,
        "The provider account is out of credits (HTTP 402)",
    ),
    "403": (Answer(403, error_body(403, "Forbidden")), 403, "Forbidden by the provider (HTTP 403): Forbidden"),
    "404": (
        Answer(404, error_body(404, "No such model")),
        404,
        "Model or endpoint not found at the provider (HTTP 404): No such model",
    ),
    "422": (
        Answer(422, error_body(422, "Bad size")),
        422,
        "Provider could not process the request (HTTP 422): Bad size",
    ),
    "200-error-object-400": (
        Answer(200, error_body(400, "Blocked by safety filter")),
        400,
        "Refused by the provider's content policy (HTTP 400): Blocked by safety filter",
    ),
}


@pytest.mark.parametrize("failure", list(PERMANENT.values()), ids=list(PERMANENT))
def test_a_permanent_failure_makes_exactly_one_call(user, run_worker, fake_openrouter, settings, failure):
    answer, status, message = failure
    settings.IMAGE_CONCURRENCY = 1
    fake_openrouter.script("Marmalade", [answer, Answer()])  # a second call would have succeeded
    book = make_book(user, run_worker, "The Marmalade cat sat on the mat.")

    assert book.status == BookStatus.COMPLETED
    image = page(book, "Marmalade")
    assert image.status == ImageStatus.FAILED
    assert image.error == message
    assert len(fake_openrouter.calls_for("Marmalade")) == 1
    assert [(a.number, a.outcome, a.http_status, a.error, a.wait_seconds) for a in attempts(image)] == [
        (1, AttemptOutcome.PERMANENT, status, message, None)
    ]


def test_retry_after_is_honoured(user, run_worker, fake_openrouter):
    fake_openrouter.script(
        "Marmalade", [Answer(429, error_body(429, "Slow down"), headers={"Retry-After": "1"}), Answer()]
    )
    book = make_book(user, run_worker, "The Marmalade cat sat on the mat.")

    calls = fake_openrouter.calls_for("Marmalade")
    assert len(calls) == 2
    assert calls[1].at - calls[0].at >= 1.0  # IMAGE_RETRY_BACKOFF is 0.01 s: the header set the wait
    first = attempts(page(book, "Marmalade"))[0]
    assert first.http_status == 429 and first.wait_seconds == 1.0


def test_retry_after_as_an_http_date_is_honoured(user, run_worker, fake_openrouter):
    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: waits 1 to 2 s
    fake_openrouter.script("Marmalade", [Answer(503, error_body(503, "Busy"), headers={"Retry-After": when}), Answer()])
    book = make_book(user, run_worker, "The Marmalade cat sat on the mat.")

    calls = fake_openrouter.calls_for("Marmalade")
    assert len(calls) == 2 and calls[1].at - calls[0].at >= 0.9
    assert page(book, "Marmalade").status == ImageStatus.COMPLETED


def test_retry_after_beyond_the_cap_is_cut_to_the_cap(user, run_worker, fake_openrouter, settings):
    settings.IMAGE_RETRY_MAX_BACKOFF = 0.5
    fake_openrouter.script(
        "Marmalade", [Answer(429, error_body(429, "Later"), headers={"Retry-After": "3600"}), Answer()]
    )
    book = make_book(user, run_worker, "The Marmalade cat sat on the mat.")

    calls = fake_openrouter.calls_for("Marmalade")
    assert 0.5 <= calls[1].at - calls[0].at < 3
    assert attempts(page(book, "Marmalade"))[0].wait_seconds == 0.5


def test_a_bad_key_on_the_first_page_stops_the_whole_book(user, run_worker, fake_openrouter, settings):
    settings.IMAGE_CONCURRENCY = 1  # pages go in order
    fake_openrouter.default = Answer(401, error_body(401, "No auth credentials found"))
    book = make_book(user, run_worker, "One.", "Two.", "Three.", "Four.", "Five.", "Six.")

    assert len(fake_openrouter.calls) == 1
    images = list(GeneratedImage.objects.filter(book=book).order_by("page_number"))
    assert len(images) == 8  # cover, six pages, the end
    assert {i.status for i in images} == {ImageStatus.FAILED}
    assert {i.error for i in images} == {"The provider rejected the API key (HTTP 401)"}
    assert ImageAttempt.objects.filter(image__book=book).count() == 1
    assert attempts(images[0])[0].http_status == 401
    assert book.status == BookStatus.COMPLETED and "8 page(s) without an illustration" in book.progress


def test_the_attempt_records_match_the_calls_the_server_saw(user, run_worker, fake_openrouter, settings):
    settings.IMAGE_RETRY_ATTEMPTS = 4
    settings.IMAGE_TIMEOUT = 0.3
    scripts = {
        "Apricot": [
            Answer(500, error_body(500, "x")),
            Answer(200, text_only()),
            Answer(429, error_body(429, "y")),
            Answer(),
        ],
        "Bramble": [Answer(503, error_body(503, "x"))],  # fails every time: four calls
        "Cobbler": [Answer(delay=1), Answer(200, error_body(502, "up")), Answer()],
        "Damson": [Answer(403, error_body(403, "no"))],
        "Elderberry": [Answer()],
    }
    expected = {
        "Apricot": [(AttemptOutcome.TRANSIENT, 500), (AttemptOutcome.TRANSIENT, None),
                    (AttemptOutcome.TRANSIENT, 429), (AttemptOutcome.SUCCESS, None)],
        "Bramble": [(AttemptOutcome.TRANSIENT, 503)] * 4,
        "Cobbler": [(AttemptOutcome.TRANSIENT, None), (AttemptOutcome.TRANSIENT, 502), (AttemptOutcome.SUCCESS, None)],
        "Damson": [(AttemptOutcome.PERMANENT, 403)],
        "Elderberry": [(AttemptOutcome.SUCCESS, None)],
    }  # fmt: skip
    for word, answers in scripts.items():
        fake_openrouter.script(word, answers)
    book = make_book(user, run_worker, *(f"The {word} pie was warm." for word in scripts))

    assert ImageAttempt.objects.filter(image__book=book).count() == len(fake_openrouter.calls)
    for word, outcomes in expected.items():
        calls = fake_openrouter.calls_for(word)
        recorded = attempts(page(book, word))
        assert len(recorded) == len(calls) == len(outcomes), word
        assert [(a.outcome, a.http_status) for a in recorded] == outcomes, word
        assert [a.number for a in recorded] == list(range(1, len(calls) + 1))
        # Same order: each attempt started when the server saw the call (within the local round trip).
        for attempt, call in zip(recorded, calls, strict=True):
            assert abs(attempt.started_at.timestamp() - call.at) < 0.25, word
        assert [a.started_at for a in recorded] == sorted(a.started_at for a in recorded)
    assert page(book, "Bramble").error == "Provider overloaded (HTTP 503) after 4 attempts"
    assert page(book, "Damson").error == "Forbidden by the provider (HTTP 403): no"


def test_the_api_key_never_reaches_logs_or_stored_errors(user, run_worker, fake_openrouter, settings, caplog):
    settings.IMAGE_CONCURRENCY = 1
    for name in ("", "urllib3", "requests", "rq", "bookstudio"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    # Providers echo what they were sent; every error message below quotes the key.
    fake_openrouter.script("Apricot", [Answer(400, error_body(400, f"Content policy: refused for key {KEY}"))])
    fake_openrouter.script("Bramble", [Answer(503, error_body(503, f"Overloaded ({KEY})"))])
    fake_openrouter.script("Cobbler", [Answer(429, f"rate limited: Bearer {KEY}")])
    fake_openrouter.script("Damson", [Answer(401, error_body(401, f"Invalid key {KEY}"))])
    book = make_book(user, run_worker, "Apricot.", "Bramble.", "Cobbler.", "Damson.", "Elderberry.")

    assert fake_openrouter.calls[0].authorization == f"Bearer {KEY}"  # the key was really in play
    assert len(fake_openrouter.calls) == 1 + 1 + 3 + 3 + 1  # cover, Apricot, Bramble, Cobbler, Damson
    assert page(book, "Elderberry").error == "The provider rejected the API key (HTTP 401)"
    assert (
        page(book, "Apricot").error
        == "Refused by the provider's content policy (HTTP 400): Content policy: refused for key [redacted]"
    )
    assert caplog.records, "nothing was logged: the test would prove nothing"
    assert any("image attempt failed" in r.getMessage() for r in caplog.records)
    assert KEY not in caplog.text
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in repr(record.args)
    for error in ImageAttempt.objects.values_list("error", flat=True):
        assert KEY not in error
    for error in GeneratedImage.objects.values_list("error", flat=True):
        assert KEY not in error
    book.refresh_from_db()
    assert KEY not in book.error and KEY not in book.progress


def test_a_decompression_bomb_is_refused_without_decoding_it():
    from images.imaging import prepare_image
    from images.providers import TransientProviderError

    with pytest.raises(TransientProviderError, match="not a decodable image"):
        prepare_image(png_bomb())
    with pytest.raises(TransientProviderError, match=r"too large \(5000x5000 pixels\)"):
        prepare_image(png_bomb(5000, 5000))
    with pytest.raises(TransientProviderError, match="not a decodable image"):
        prepare_image(b"GIF89a and then nothing")
    good = image_body("a fine picture")["choices"][0]["message"]["images"][0]["image_url"]["url"]
    prepared = prepare_image(base64.b64decode(good.split(",", 1)[1]))
    assert prepared.width == 96 and prepared.height == 128
    from PIL import Image

    assert Image.open(io.BytesIO(prepared.print_jpeg)).format == "JPEG"


def test_in_a_total_outage_the_shared_budget_cuts_later_pages_to_one_call(user, run_worker, fake_openrouter, settings):
    settings.IMAGE_CONCURRENCY = 1  # pages in order, so the calls per page are exact
    settings.IMAGE_RETRY_BUDGET_RATIO = 1.0
    settings.IMAGE_RETRY_BUDGET_TOKENS = 10
    fake_openrouter.default = Answer(503, error_body(503, "Overloaded"))
    book = make_book(user, run_worker, *(f"Page {n} of the outage." for n in range(1, 11)))

    images = list(GeneratedImage.objects.filter(book=book).order_by("page_number"))
    calls = [image.attempts.count() for image in images]
    # Ten tokens, one per failure: two pages take all three calls, then the bucket is at half and
    # every later page makes its single first call.
    assert calls == [3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    assert len(fake_openrouter.calls) == sum(calls)
    assert images[0].error == "Provider overloaded (HTTP 503) after 3 attempts"
    assert images[-1].error == "Provider overloaded (HTTP 503)"
    assert book.status == BookStatus.COMPLETED
