"""WeasyPrint reads nothing but the book's own images: not local files, not the network."""

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pypdf import PdfReader

from books.pdf import PdfPage, image_url, render_review
from tests.support.fake_openrouter import png_bytes


@pytest.fixture
def listening_server():
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(png_bytes("x", (60, 80)))).convert("RGB").save(out, "JPEG")
    return out.getvalue()


def test_only_the_books_own_images_are_fetched(listening_server, tmp_path):
    url, hits = listening_server
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes("secret", (50, 50)))
    own = image_url("11111111-1111-1111-1111-111111111111")
    pages = [
        PdfPage(number=1, kind="cover", text="Title", image_url=own),
        PdfPage(number=2, kind="content", text="From the disk", image_url=f"file://{secret}"),
        PdfPage(number=3, kind="content", text="From the network", image_url=f"{url}/steal.png"),
        PdfPage(number=4, kind="end", text="The End", image_url=None),
    ]
    rendered = render_review(title="Title", author="", pages=pages, images={own: _jpeg()})
    reader = PdfReader(io.BytesIO(rendered.data))
    assert len(reader.pages) == 4
    assert hits == []
    # The only picture in the document is the book's own 60x80 image, never the 50x50 secret.
    sizes = {img.image.size for page in reader.pages for img in page.images}
    assert sizes == {(60, 80)}
