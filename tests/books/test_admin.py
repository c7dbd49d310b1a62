import pytest
from django.urls import reverse

from books.models import BookJob, BookStatus
from books.services import create_book
from images.models import GeneratedImage, ImageStatus
from tests.support.fake_openrouter import Answer, error_body

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff_client(client, django_user_model):
    staff = django_user_model.objects.create_superuser(username="staff", password="pass-staff-1")
    client.force_login(staff)
    return client


def make_book_with_a_refused_page(user, fake_openrouter, run_worker, title: str) -> BookJob:
    fake_openrouter.script(f"{title} unlucky", [Answer(400, error_body(400, "Content policy violation")), Answer()])
    book = create_book(owner=user, title=title, pages=[f"The {title} unlucky page.", "A lucky page."])
    run_worker()
    book.refresh_from_db()
    assert book.status == BookStatus.COMPLETED
    return book


def test_retry_failed_images_action_reports_each_outcome(staff_client, user, fake_openrouter, run_worker):
    failed_book = make_book_with_a_refused_page(user, fake_openrouter, run_worker, "Alpha")
    clean_book = create_book(owner=user, title="Clean", pages=["All good here."])
    run_worker()
    busy_book = create_book(owner=user, title="Busy", pages=["Still waiting for a worker."])

    response = staff_client.post(
        reverse("admin:books_bookjob_changelist"),
        {"action": "retry_failed_images", "_selected_action": [failed_book.pk, clean_book.pk, busy_book.pk]},
        follow=True,
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "Regeneration started for 1 book(s); 1 had nothing to retry; 1 still in progress." in text

    run_worker()
    failed_book.refresh_from_db()
    assert failed_book.status == BookStatus.COMPLETED
    image = GeneratedImage.objects.get(book=failed_book, page_number=2)
    assert image.status == ImageStatus.COMPLETED and image.retry_attempt == 1 and image.retried_at


def test_admin_pages_show_books_images_and_attempts(staff_client, user, fake_openrouter, run_worker):
    book = make_book_with_a_refused_page(user, fake_openrouter, run_worker, "Beta")
    changelist = staff_client.get(reverse("admin:books_bookjob_changelist") + "?status__exact=completed&q=Beta")
    assert changelist.status_code == 200 and "Beta" in changelist.content.decode()

    change = staff_client.get(reverse("admin:books_bookjob_change", args=[book.pk]))
    body = change.content.decode()
    assert change.status_code == 200
    assert "Refused by the provider" in body and "retry_attempt" in body.lower().replace(" ", "_")
    assert reverse("books:pdf", args=[book.pk, "review"]) in body

    failed = GeneratedImage.objects.get(book=book, status=ImageStatus.FAILED)
    images = staff_client.get(reverse("admin:images_generatedimage_changelist") + "?status__exact=failed")
    assert images.status_code == 200 and str(failed.page_number) in images.content.decode()
    detail = staff_client.get(reverse("admin:images_generatedimage_change", args=[failed.pk]))
    assert detail.status_code == 200 and "HTTP 400" in detail.content.decode()
