"""Render a book's two PDFs with WeasyPrint from Django templates.

WeasyPrint reads nothing but the book's own stored images: every other URL (file://, http://,
data:, anything a story might smuggle in) is refused by BookImageFetcher.
"""

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from django.template.loader import render_to_string
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from books.imposition import booklet_sides

IMAGE_SCHEME = "bookstudio-image"


# A content page whose text is at most this many ems wide fits its 33 mm box in four lines of 24 ems
# (15 pt on 128 mm) even when words wrap early, so it can take the flex-free layout of _style.html.
COMPACT_TEXT_EMS = 72


@dataclass(frozen=True)
class PdfPage:
    number: int
    kind: str
    text: str
    image_url: str | None  # None: rendered with its text alone

    @property
    def compact(self) -> bool:
        """Whether the page takes the quick layout (``.compact`` in templates/books/pdf/_style.html)."""
        return self.kind == "content" and _ems(self.text) <= COMPACT_TEXT_EMS


def _ems(text: str) -> float:
    """A text's rough width in ems: wide characters (CJK, emoji) one em, the others 0.6, a generous
    average for running text (the CSS clips the freak cases instead of letting them run off the page)."""
    return sum(1.0 if unicodedata.east_asian_width(char) in "WF" else 0.6 for char in text)


@dataclass(frozen=True)
class RenderedPdf:
    data: bytes
    page_count: int


def image_url(image_id: object) -> str:
    return f"{IMAGE_SCHEME}:{image_id}"


class BookImageFetcher(URLFetcher):
    """Serves the book's print JPEGs from memory and refuses every other URL."""

    def __init__(self, images: Mapping[str, bytes]):
        super().__init__(allowed_protocols=(IMAGE_SCHEME,), allow_redirects=False)
        self._images = images

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        data = self._images.get(url)
        if data is None:
            raise ValueError(f"Blocked a resource outside the book: {url[:80]}")
        return URLFetcherResponse(url, body=data, headers={"Content-Type": "image/jpeg"})


def _render(template: str, context: dict, images: Mapping[str, bytes]) -> RenderedPdf:
    html = render_to_string(template, context)
    document = HTML(string=html, base_url=f"{IMAGE_SCHEME}:/", url_fetcher=BookImageFetcher(images)).render()
    return RenderedPdf(data=document.write_pdf(), page_count=len(document.pages))


def render_review(*, title: str, author: str, pages: list[PdfPage], images: Mapping[str, bytes]) -> RenderedPdf:
    """A5 portrait, reading order, blank pages left out."""
    readable = [page for page in pages if page.kind != "blank"]
    return _render("books/pdf/review.html", {"title": title, "author": author, "pages": readable}, images)


def render_booklet(*, title: str, author: str, pages: list[PdfPage], images: Mapping[str, bytes]) -> RenderedPdf:
    """A4 landscape sides, two A5 pages each, imposed for duplex printing flipped on the short edge."""
    by_number = {page.number: page for page in pages}
    sides = [(by_number.get(left), by_number.get(right)) for left, right in booklet_sides(len(pages))]
    return _render("books/pdf/booklet.html", {"title": title, "author": author, "sides": sides}, images)
