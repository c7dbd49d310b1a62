"""Books on object storage: moto's S3 server in its own process stands in for S3 / R2, with the
storage settings production builds from AWS_* variables. Real RQ worker, real WeasyPrint."""

import io
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.urls import reverse
from pypdf import PdfReader

from books.models import BookPdf, BookStatus
from books.services import RegenerationOutcome, create_book, start_regeneration
from books.workers import BurstWorker
from images.models import GeneratedImage, ImageStatus
from tests.production.helpers import assert_fully_illustrated, assert_pdfs_whole
from tests.support.fake_openrouter import Answer, error_body

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = [
    "Mira the mole dug a long tunnel under the garden.",
    "She found a shiny marble glowing like the moon.",
    "Her friend the beetle juggled three tiny pebbles.",
    "At night they watched fireflies dance over the pond.",
]
REFUSED = "juggled three tiny pebbles"


def stored_names(book) -> set[str]:
    """Every file name the database holds for the book."""
    names = {pdf.file.name for pdf in BookPdf.objects.filter(book=book)}
    for image in GeneratedImage.objects.filter(book=book).exclude(image=""):
        names |= {image.image.name, image.thumbnail.name}
    return names


def pdf_names(book) -> set[str]:
    return set(BookPdf.objects.filter(book=book).values_list("file", flat=True))


def run_one_job() -> None:
    import django_rq

    queue = django_rq.get_queue("default")
    BurstWorker([queue], connection=queue.connection).work(burst=True, max_jobs=1, logging_level="WARNING")


def book_with_a_refused_page(*, user, fake, run_worker, title: str):
    """A completed book (first round of PDFs written) with one page the provider refused once."""
    fake.script(REFUSED, [Answer(status=400, body=error_body(400, "Content policy violation")), Answer()])
    book = create_book(owner=user, title=title, pages=PAGES)
    run_worker()
    book.refresh_from_db()
    assert book.status == BookStatus.COMPLETED, book.error
    assert book.images.filter(status=ImageStatus.FAILED).count() == 1
    return book


def test_a_whole_book_is_stored_as_objects_in_the_bucket(user, s3_bucket, run_worker, settings):
    book = create_book(owner=user, title="The Lantern and the Moon", pages=PAGES)
    run_worker()
    assert_fully_illustrated(book)

    keys = s3_bucket.keys()
    assert keys == stored_names(book)  # every file is an object, and the bucket holds nothing else
    illustrated = GeneratedImage.objects.filter(book=book).count()
    assert {k for k in keys if k.startswith(f"images/{book.pk}/page_")} == {
        f"images/{book.pk}/page_{n}.jpg" for n in book.images.values_list("page_number", flat=True)
    }
    assert len([k for k in keys if k.startswith(f"images/{book.pk}/thumbs/page_")]) == illustrated
    pdfs = {k for k in keys if k.startswith(f"pdfs/{book.pk}/")}
    assert len(pdfs) == 2 and pdfs == pdf_names(book)
    review = BookPdf.objects.get(book=book, kind="review")
    assert len(PdfReader(io.BytesIO(s3_bucket.read(review.file.name))).pages) == review.page_count == illustrated
    assert not (settings.MEDIA_ROOT.exists() and any(settings.MEDIA_ROOT.rglob("*.*")))  # nothing went to disk


def test_owner_downloads_through_a_short_lived_signed_url(user, other_user, client, s3_bucket, run_worker):
    book = create_book(owner=user, title="Signed and Sealed", pages=PAGES)
    run_worker()
    assert_fully_illustrated(book)
    review = BookPdf.objects.get(book=book, kind="review")

    client.force_login(user)
    response = client.get(reverse("books:pdf", args=[book.pk, "review"]))
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(s3_bucket.server_url)
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Expires"] == ["300"]
    assert query["X-Amz-Signature"][0] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["response-content-disposition"] == ['attachment; filename="signed-and-sealed-review.pdf"']

    download = requests.get(url, timeout=10)
    assert download.status_code == 200
    assert download.content == s3_bucket.read(review.file.name)
    assert len(PdfReader(io.BytesIO(download.content)).pages) == review.page_count
    assert download.headers["Content-Disposition"].startswith("attachment")
    # The object itself is private: without the signature the server refuses it.
    assert requests.get(url.split("?")[0], timeout=10).status_code == 403

    image = client.get(reverse("books:image", args=[book.pk, 2]))
    thumb = client.get(reverse("books:thumbnail", args=[book.pk, 2]))
    assert image.status_code == thumb.status_code == 302
    assert requests.get(image["Location"], timeout=10).content[:3] == b"\xff\xd8\xff"  # a JPEG
    assert requests.get(thumb["Location"], timeout=10).content[:3] == b"\xff\xd8\xff"

    client.force_login(other_user)
    for name, args in (("books:pdf", [book.pk, "review"]), ("books:image", [book.pk, 2])):
        assert client.get(reverse(name, args=args)).status_code == 404
    assert client.get(reverse("books:thumbnail", args=[book.pk, 2])).status_code == 404
    client.logout()
    anonymous = client.get(reverse("books:pdf", args=[book.pk, "review"]))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))


def test_regeneration_replaces_the_pdfs_and_leaves_no_orphan(user, s3_bucket, fake_openrouter, run_worker):
    book = book_with_a_refused_page(user=user, fake=fake_openrouter, run_worker=run_worker, title="Replaced")
    first = pdf_names(book)
    assert s3_bucket.keys(f"pdfs/{book.pk}/") == first

    regeneration = start_regeneration(book_id=book.pk, user=user)
    assert regeneration.outcome is RegenerationOutcome.STARTED and regeneration.failed_image_count == 1
    run_worker()

    assert_fully_illustrated(book)
    second = pdf_names(book)
    assert len(second) == 2 and not second & first
    assert s3_bucket.keys(f"pdfs/{book.pk}/") == second  # the old objects went after the switch
    assert s3_bucket.keys() == stored_names(book)


def test_storage_outage_mid_render_keeps_the_previous_pdfs(
    user, client, settings, s3_bucket, s3_proxy, fake_openrouter, run_worker
):
    settings.STORAGES = {**settings.STORAGES, "default": s3_bucket.storage(endpoint_url=s3_proxy.url, max_attempts=2)}
    book = book_with_a_refused_page(user=user, fake=fake_openrouter, run_worker=run_worker, title="Outage")
    first = pdf_names(book)
    first_bytes = {name: s3_bucket.read(name) for name in first}

    assert start_regeneration(book_id=book.pk, user=user).outcome is RegenerationOutcome.STARTED
    run_one_job()  # the draw job: the refused page is drawn and stored, the render job is queued
    assert not book.images.exclude(status=ImageStatus.COMPLETED).exists()

    s3_proxy.fail = lambda method, path: True  # the storage endpoint goes down before the render
    run_worker()
    assert s3_proxy.failed
    book.refresh_from_db()
    assert book.status == BookStatus.FAILED and not book.rendering
    assert book.error.startswith("Rendering the PDFs failed") and "previous PDFs are kept" in book.error

    s3_proxy.fail = None  # the storage is back
    assert pdf_names(book) == first and s3_bucket.keys(f"pdfs/{book.pk}/") == first
    client.force_login(user)
    response = client.get(reverse("books:pdf", args=[book.pk, "booklet"]))
    assert response.status_code == 302
    download = requests.get(response["Location"], timeout=10)
    assert download.status_code == 200 and download.content in first_bytes.values()
    assert_pdfs_whole(book)

    # Every page is drawn: retrying the book renders it again.
    assert start_regeneration(book_id=book.pk, user=user).outcome is RegenerationOutcome.STARTED
    run_worker()
    assert_fully_illustrated(book)
    assert s3_bucket.keys(f"pdfs/{book.pk}/") == pdf_names(book) and not pdf_names(book) & first


def test_a_failed_second_pdf_write_removes_the_first_and_keeps_the_old_pair(
    user, settings, s3_bucket, s3_proxy, fake_openrouter, run_worker
):
    settings.STORAGES = {**settings.STORAGES, "default": s3_bucket.storage(endpoint_url=s3_proxy.url, max_attempts=2)}
    book = book_with_a_refused_page(user=user, fake=fake_openrouter, run_worker=run_worker, title="Half Written")
    first = pdf_names(book)

    # The review copy is written first; the booklet's upload fails.
    s3_proxy.fail = lambda method, path: method == "PUT" and f"/pdfs/{book.pk}/booklet-" in path
    assert start_regeneration(book_id=book.pk, user=user).outcome is RegenerationOutcome.STARTED
    run_worker()
    assert s3_proxy.failed
    book.refresh_from_db()
    assert book.status == BookStatus.FAILED and "previous PDFs are kept" in book.error
    assert pdf_names(book) == first
    assert s3_bucket.keys(f"pdfs/{book.pk}/") == first  # the new review copy was removed again
    assert_pdfs_whole(book)


def test_local_files_have_no_public_url(user, client, run_worker, settings):
    book = create_book(owner=user, title="No Public Files", pages=PAGES[:2])
    run_worker()
    assert_fully_illustrated(book)
    image = book.images.get(page_number=2)
    pdf = BookPdf.objects.get(book=book, kind="review")
    assert (settings.MEDIA_ROOT / image.image.name).is_file()

    client.force_login(user)
    for name in (image.image.name, image.thumbnail.name, pdf.file.name):
        assert client.get(f"{settings.MEDIA_URL}{name}").status_code == 404
    served = client.get(reverse("books:pdf", args=[book.pk, "review"]))
    assert served.status_code == 200 and b"".join(served.streaming_content).startswith(b"%PDF-")
