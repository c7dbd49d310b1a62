"""Regeneration end to end: the fake provider refuses a page, the API retries it, the PDFs are replaced."""

import io

import pytest
from django.core.files.storage import default_storage
from pypdf import PdfReader

from books.auth import create_token
from books.models import BookPdf, BookStatus
from images.models import AttemptOutcome, GeneratedImage, ImageAttempt, ImageStatus
from tests.regeneration.stories import ILLUSTRATED_PAGES, REFUSED, REFUSED_PAGE, book_with_a_failed_page

pytestmark = pytest.mark.django_db(transaction=True)


def pdf_names(book) -> dict[str, str]:
    return {pdf.kind: pdf.file.name for pdf in BookPdf.objects.filter(book=book)}


def review_text(book) -> list[str]:
    pdf = BookPdf.objects.get(book=book, kind="review")
    with default_storage.open(pdf.file.name, "rb") as handle:
        return [page.extract_text() for page in PdfReader(io.BytesIO(handle.read())).pages]


def test_a_refused_page_is_redrawn_and_the_pdfs_replaced(client, user, fake_openrouter, run_worker):
    book = book_with_a_failed_page(owner=user, fake=fake_openrouter, run_worker=run_worker)
    refused = GeneratedImage.objects.get(book=book, page_number=REFUSED_PAGE)
    assert refused.status == ImageStatus.FAILED
    assert refused.error.startswith("Refused by the provider's content policy (HTTP 400)")
    assert book.progress == "Book completed; 1 page(s) without an illustration"
    old = pdf_names(book)
    assert set(old) == {"review", "booklet"} and all(default_storage.exists(name) for name in old.values())
    assert len(review_text(book)) == ILLUSTRATED_PAGES
    calls_before = len(fake_openrouter.calls)

    headers = {"Authorization": f"Bearer {create_token(user=user)[1]}"}
    response = client.post(f"/api/v1/books/{book.pk}/regenerate", headers=headers)
    assert response.status_code == 202, response.content
    assert response.json()["failed_image_count"] == 1
    run_worker()

    book.refresh_from_db()
    assert book.status == BookStatus.COMPLETED, book.error
    assert (book.progress, book.error) == ("Book completed", "")
    refused.refresh_from_db()
    assert refused.status == ImageStatus.COMPLETED and refused.error == ""
    assert refused.retry_attempt == 1 and refused.retried_at is not None
    assert refused.image and default_storage.exists(refused.image.name)
    # Only the refused page went back to the provider; the others kept round 0.
    assert len(fake_openrouter.calls) == calls_before + 1 and REFUSED in fake_openrouter.calls[-1].prompt
    assert not GeneratedImage.objects.filter(book=book).exclude(pk=refused.pk).exclude(retry_attempt=0).exists()

    attempts = list(ImageAttempt.objects.filter(image=refused).values_list("round", "number", "outcome", "http_status"))
    assert attempts == [(0, 1, AttemptOutcome.PERMANENT, 400), (1, 1, AttemptOutcome.SUCCESS, None)]

    new = pdf_names(book)
    assert set(new) == {"review", "booklet"}
    for kind in new:
        assert new[kind] != old[kind]
        assert default_storage.exists(new[kind])
        assert not default_storage.exists(old[kind])
    review = BookPdf.objects.get(book=book, kind="review")
    assert len(review_text(book)) == review.page_count == ILLUSTRATED_PAGES

    status = client.get(f"/api/v1/books/{book.pk}", headers=headers).json()
    assert status["failed_image_count"] == 0
    page = status["pages"][REFUSED_PAGE - 1]["image"]
    assert page["status"] == "completed" and page["retry_attempt"] == 1 and page["retried_at"]
    assert client.get(status["pdfs"]["booklet"]["url"], headers=headers).status_code == 200


def test_a_second_regeneration_has_nothing_to_do(client, user, fake_openrouter, run_worker):
    book = book_with_a_failed_page(owner=user, fake=fake_openrouter, run_worker=run_worker)
    headers = {"Authorization": f"Bearer {create_token(user=user)[1]}"}
    assert client.post(f"/api/v1/books/{book.pk}/regenerate", headers=headers).status_code == 202
    run_worker()

    again = client.post(f"/api/v1/books/{book.pk}/regenerate", headers=headers)
    assert again.status_code == 200 and again.json()["message"] == "No failed images to retry."
