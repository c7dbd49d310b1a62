"""The quick layout of compact pages (books.pdf.PdfPage.compact) must print exactly like the flex layout."""

import io
from dataclasses import dataclass

import pytest
from pypdf import PdfReader

from books.pdf import PdfPage, render_booklet, render_review
from images.imaging import prepare_image
from images.providers.local_art import draw_illustration


@dataclass(frozen=True)
class FlexPage(PdfPage):
    @property
    def compact(self) -> bool:
        return False


def text_positions(pdf: bytes) -> list[tuple[int, str, float, float]]:
    found = []
    for number, page in enumerate(PdfReader(io.BytesIO(pdf)).pages):

        def visit(text, cm, tm, _font, _size, number=number):
            if text.strip():
                x, y = tm[4] * cm[0] + tm[5] * cm[2] + cm[4], tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                found.append((number, text.strip(), round(x, 1), round(y, 1)))

        page.extract_text(visitor_text=visit)
    return found


TEXTS = [
    "The fox walks to the river and waves at the moon.",
    "The little fox walked along the river bank, waving at the silver moon that followed him home.",
    "Short.",
    "狐狸和月亮去看海，然后又回来了。狐狸和月亮去看海。",
]


@pytest.mark.parametrize("render", [render_review, render_booklet])
def test_compact_pages_print_like_the_flex_layout(render):
    picture = prepare_image(draw_illustration("a fox", width=96, height=128)).print_jpeg
    images = {"bookstudio-image:art": picture}
    kinds = ["cover", *["content"] * len(TEXTS), "end"]
    texts = ["Fox", *TEXTS, "The End"]

    def pages(page_class):
        return [
            page_class(number=n, kind=kind, text=text, image_url="bookstudio-image:art" if n % 3 else None)
            for n, (kind, text) in enumerate(zip(kinds, texts, strict=True), start=1)
        ]

    assert sum(page.compact for page in pages(PdfPage)) == len(TEXTS)
    quick = render(title="Fox", author="Ann", pages=pages(PdfPage), images=images)
    flex = render(title="Fox", author="Ann", pages=pages(FlexPage), images=images)
    assert quick.page_count == flex.page_count
    assert text_positions(quick.data) == text_positions(flex.data)


def test_only_content_pages_with_short_text_are_compact():
    assert PdfPage(number=2, kind="content", text="x" * 100, image_url=None).compact
    assert not PdfPage(number=2, kind="content", text="狐" * 80, image_url=None).compact
    assert not PdfPage(number=1, kind="cover", text="Fox", image_url=None).compact
    assert not PdfPage(number=3, kind="end", text="The End", image_url=None).compact
