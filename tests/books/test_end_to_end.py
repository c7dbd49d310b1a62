import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from books.models import BookJob, BookPdf, BookStatus
from books.services import create_book
from images.models import GeneratedImage, ImageStatus
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.django_db(transaction=True)

A5 = (419.5, 595.3)  # points
A4_LANDSCAPE = (841.9, 595.3)


def page_sizes(data: bytes) -> list[tuple[float, float]]:
    reader = PdfReader(io.BytesIO(data))
    return [(round(float(p.mediabox.width), 1), round(float(p.mediabox.height), 1)) for p in reader.pages]


def assert_close(size, expected):
    assert abs(size[0] - expected[0]) < 2 and abs(size[1] - expected[1]) < 2, (size, expected)


def test_story_becomes_two_pdfs_with_a_worker_process(user, tmp_path):
    story = Path("tests/fixtures/lantern-moon.txt").read_text(encoding="utf-8")
    book = create_book(owner=user, title="The Lantern and the Moon", story=story)
    assert book.status == BookStatus.PENDING
    illustrated = [p for p in book.pages if p["kind"] != "blank"]
    assert GeneratedImage.objects.filter(book=book).count() == len(illustrated)

    worker = WorkerProcess(burst=True, log=tmp_path / "worker.log").start()
    assert worker.wait(180) == 0, (tmp_path / "worker.log").read_text()[-3000:]

    book.refresh_from_db()
    assert book.status == BookStatus.COMPLETED, book.error
    assert book.progress == "Book completed"
    assert not GeneratedImage.objects.filter(book=book).exclude(status=ImageStatus.COMPLETED).exists()
    for image in GeneratedImage.objects.filter(book=book):
        assert image.image.name.startswith(f"images/{book.pk}/page_")
        assert image.size_bytes > 1000

    review = BookPdf.objects.get(book=book, kind="review")
    booklet = BookPdf.objects.get(book=book, kind="booklet")
    review_sizes = page_sizes(review.file.read())
    booklet_sizes = page_sizes(booklet.file.read())
    assert len(review_sizes) == len(illustrated) == review.page_count
    assert len(booklet_sizes) == book.total_pages // 2 == booklet.page_count
    for size in review_sizes:
        assert_close(size, A5)
    for size in booklet_sizes:
        assert_close(size, A4_LANDSCAPE)


def test_booklet_order_follows_the_imposition(user, run_worker):
    pages = [f"Page number {word} of the test." for word in ["one", "two", "three", "four", "five", "six"]]
    book = create_book(owner=user, title="Order", pages=pages)
    run_worker()
    book.refresh_from_db()
    assert book.status == BookStatus.COMPLETED and book.total_pages == 8
    booklet = PdfReader(io.BytesIO(BookPdf.objects.get(book=book, kind="booklet").file.read()))
    texts = [page.extract_text() for page in booklet.pages]
    # Sides (8,1), (2,7), (6,3), (4,5): page 1 is the cover, 8 the end, 2..7 the six content pages.
    assert "The End" in texts[0] and texts[0].index("The End") < texts[0].index("Order")
    assert texts[1].index("one") < texts[1].index("six")
    assert texts[2].index("five") < texts[2].index("two")
    assert texts[3].index("three") < texts[3].index("four")


def test_html_in_a_story_prints_as_text_and_fetches_nothing(user, run_worker):
    story = 'She wrote <img src="file:///etc/passwd"> and <b>bold</b> on the wall. Then she went home.'
    book = create_book(owner=user, title="Tags", story=story)
    run_worker()
    book.refresh_from_db()
    assert book.status == BookStatus.COMPLETED
    review = PdfReader(io.BytesIO(BookPdf.objects.get(book=book, kind="review").file.read()))
    text = "".join(page.extract_text() for page in review.pages)
    assert '<img src="file:///etc/passwd">' in text
    assert "root:" not in text


def test_bad_story_is_refused_and_nothing_is_stored(user):
    from books.services import InvalidBook

    with pytest.raises(InvalidBook) as caught:
        create_book(owner=user, title="", story="")
    assert "title" in caught.value.errors
    assert not BookJob.objects.exists()
