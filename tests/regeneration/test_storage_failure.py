"""Storage failing while the regenerated PDFs are written: the book keeps its old PDFs, and can try again."""

import pytest
from django.core.files.storage import FileSystemStorage, default_storage

from books.auth import create_token
from books.models import BookPdf, BookStatus
from images.models import GeneratedImage, ImageStatus
from tests.regeneration.stories import ILLUSTRATED_PAGES, REFUSED_PAGE, book_with_a_failed_page

pytestmark = pytest.mark.django_db(transaction=True)


class PdfWritesFailAfterTheFirst(FileSystemStorage):
    """A disk that fills up mid-render: the first PDF written is saved, every later one raises."""

    pdfs_saved = 0

    def _save(self, name, content):
        if name.startswith("pdfs/"):
            if PdfWritesFailAfterTheFirst.pdfs_saved >= 1:
                raise OSError(28, "No space left on device")
            PdfWritesFailAfterTheFirst.pdfs_saved += 1
        return super()._save(name, content)


@pytest.fixture
def use_storage(settings):
    def use(backend: str) -> None:
        PdfWritesFailAfterTheFirst.pdfs_saved = 0
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {"BACKEND": backend, "OPTIONS": {"location": settings.MEDIA_ROOT}},
        }

    return use


def pdf_rows(book) -> dict[str, tuple]:
    return {
        pdf.kind: (pdf.file.name, pdf.page_count, pdf.size_bytes, pdf.created_at)
        for pdf in BookPdf.objects.filter(book=book)
    }


def stored_pdfs(book) -> set[str]:
    return {f"pdfs/{book.pk}/{name}" for name in default_storage.listdir(f"pdfs/{book.pk}")[1]}


def download(client, headers, book, kind) -> bytes:
    response = client.get(f"/books/{book.pk}/pdf/{kind}", headers=headers)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_a_failed_pdf_write_keeps_the_old_pdfs_and_a_later_try_succeeds(
    client, user, fake_openrouter, run_worker, use_storage
):
    book = book_with_a_failed_page(owner=user, fake=fake_openrouter, run_worker=run_worker)
    headers = {"Authorization": f"Bearer {create_token(user=user)[1]}"}
    before = pdf_rows(book)
    files_before = stored_pdfs(book)
    assert files_before == {name for name, *_ in before.values()}
    bytes_before = {kind: download(client, headers, book, kind) for kind in before}

    use_storage(f"{__name__}.PdfWritesFailAfterTheFirst")
    started = client.post(f"/api/v1/books/{book.pk}/regenerate", headers=headers)
    assert started.status_code == 202, started.content
    run_worker()

    book.refresh_from_db()
    assert PdfWritesFailAfterTheFirst.pdfs_saved == 1  # one PDF was written before the disk filled up
    assert book.status == BookStatus.FAILED
    assert book.error == "Rendering the PDFs failed (OSError); the previous PDFs are kept. Try again."
    assert book.rendering is False and book.lease_expires_at is None
    assert pdf_rows(book) == before
    assert stored_pdfs(book) == files_before  # the one new PDF that was written is cleaned up
    assert {kind: download(client, headers, book, kind) for kind in before} == bytes_before
    status = client.get(f"/api/v1/books/{book.pk}", headers=headers).json()
    assert (status["status"], status["error"]) == ("failed", book.error)
    # The page itself was drawn this time; only the PDFs are missing.
    assert GeneratedImage.objects.get(book=book, page_number=REFUSED_PAGE).status == ImageStatus.COMPLETED

    use_storage("django.core.files.storage.FileSystemStorage")
    again = client.post(f"/api/v1/books/{book.pk}/regenerate", headers=headers)
    assert again.status_code == 202, again.content
    assert again.json()["failed_image_count"] == 0
    run_worker()

    book.refresh_from_db()
    assert book.status == BookStatus.COMPLETED, book.error
    assert (book.progress, book.error) == ("Book completed", "")
    after = pdf_rows(book)
    assert set(after) == set(before)
    for kind in before:
        assert after[kind][0] != before[kind][0]
    assert stored_pdfs(book) == {name for name, *_ in after.values()}  # old files deleted
    assert after["review"][1] == ILLUSTRATED_PAGES
    assert download(client, headers, book, "review").startswith(b"%PDF")
