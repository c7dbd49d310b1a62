"""The studio's pages through Django's test client: sign-in, ownership, the form, regeneration."""

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from books.models import BookJob, BookStatus
from books.services import create_book
from images.models import GeneratedImage, ImageStatus
from tests.support.fake_openrouter import Answer, error_body

STORY = (
    "Pip the little grey mouse climbed the old mill wheel, one wet paddle at a time. "
    "The owl flew her over the sleeping hill and past the scarecrow in the field. "
    "They found the moon tangled in the branches of a tall pine tree and set it free."
)  # three pages of story: cover, three pages, end


@pytest.fixture
def book(user):
    return create_book(owner=user, title="Pip and the Moon", story=STORY)


@pytest.fixture
def ada(client, user):
    client.force_login(user)
    return client


def page_urls(book_id) -> list[str]:
    return [
        reverse("books:detail", args=[book_id]),
        reverse("books:status", args=[book_id]),
        reverse("books:pdf", args=[book_id, "review"]),
        reverse("books:thumbnail", args=[book_id, 1]),
        reverse("books:image", args=[book_id, 1]),
    ]


# ---------------------------------------------------------------- signing in


@pytest.mark.django_db
def test_every_page_sends_strangers_to_sign_in(client, book):
    for url in [reverse("books:list"), reverse("books:new"), *page_urls(book.pk)]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next="), url
    response = client.post(reverse("books:regenerate", args=[book.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    book.refresh_from_db()
    assert book.status == BookStatus.PENDING


@pytest.mark.django_db
def test_sign_in_and_sign_out(client, user):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b'name="username"' in page.content and b'name="password"' in page.content

    wrong = client.post(reverse("login"), {"username": "ada", "password": "nope"})
    assert wrong.status_code == 200
    assert "Please enter a correct username and password" in wrong.content.decode()

    signed_in = client.post(reverse("login"), {"username": "ada", "password": "pass-ada-123"})
    assert signed_in.status_code == 302 and signed_in["Location"] == reverse("books:list")
    books = client.get(reverse("books:list"))
    html = books.content.decode()
    assert 'action="/accounts/logout/"' in html and 'method="post"' in html and "csrfmiddlewaretoken" in html

    assert client.get(reverse("logout")).status_code == 405  # signing out is a POST, never a link
    signed_out = client.post(reverse("logout"))
    assert signed_out.status_code == 302 and signed_out["Location"] == reverse("login")
    assert client.get(reverse("books:list")).status_code == 302


@pytest.mark.django_db
def test_sign_in_returns_to_the_page_asked_for(client, user, book):
    detail = reverse("books:detail", args=[book.pk])
    response = client.post(
        f"{reverse('login')}?next={detail}", {"username": "ada", "password": "pass-ada-123", "next": detail}
    )
    assert response.status_code == 302 and response["Location"] == detail


# ---------------------------------------------------------------- ownership


@pytest.mark.django_db
def test_another_users_book_is_not_found(client, other_user, book):
    client.force_login(other_user)
    for url in page_urls(book.pk):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("books:regenerate", args=[book.pk])).status_code == 404
    assert book.title not in client.get(reverse("books:list")).content.decode()


@pytest.mark.django_db
def test_unknown_and_malformed_ids_are_not_found(ada):
    for book_id in ["not-a-uuid", "00000000-0000-0000-0000-000000000000"]:
        assert ada.get(reverse("books:detail", args=[book_id])).status_code == 404
        assert ada.get(reverse("books:status", args=[book_id])).status_code == 404
        assert ada.post(reverse("books:regenerate", args=[book_id])).status_code == 404


# ---------------------------------------------------------------- my books


@pytest.mark.django_db
def test_my_books_lists_own_books_newest_first_with_pages(ada, user, other_user, settings):
    settings.BOOKS_PER_PAGE = 2
    for title in ["First", "Second", "Third"]:
        create_book(owner=user, title=title, story=STORY)
    create_book(owner=other_user, title="Bob's secret", story=STORY)

    first = ada.get(reverse("books:list")).content.decode()
    assert first.index("Third") < first.index("Second")
    assert "First" not in first and "Bob&#x27;s secret" not in first and "Bob's secret" not in first
    assert "Page 1 of 2" in first and "Waiting" in first and "6 pages" in first

    second = ada.get(reverse("books:list") + "?page=2").content.decode()
    assert "First" in second and "Third" not in second
    assert ada.get(reverse("books:list") + "?page=99").status_code == 200  # out of range: the last page


@pytest.mark.django_db
def test_my_books_invites_a_first_book(ada):
    html = ada.get(reverse("books:list")).content.decode()
    assert "No books yet" in html and reverse("books:new") in html


# ---------------------------------------------------------------- new book


@pytest.mark.django_db
def test_new_book_form_shows_every_field(ada):
    html = ada.get(reverse("books:new")).content.decode()
    for name in ["title", "story", "story_file", "author", "language", "end_text", "style"]:
        assert f'name="{name}"' in html, name
    assert 'enctype="multipart/form-data"' in html
    assert '<option value="ru">' in html and "Русский" in html


def field_errors(response, field: str) -> str:
    """The text of the field's block: its errors must sit next to it."""
    html = response.content.decode()
    match = re.search(rf'<div class="field field-invalid" id="field-{field}">(.*?)</div>', html, re.S)
    assert match, f"no error shown next to {field}"
    return match.group(1)


@pytest.mark.django_db
def test_empty_story_is_an_error_next_to_the_story_and_keeps_the_input(ada):
    response = ada.post(
        reverse("books:new"), {"title": "My Kept Title", "story": "   ", "author": "Kim", "language": "fr"}
    )
    assert response.status_code == 200
    assert "Write a story" in field_errors(response, "story")
    html = response.content.decode()
    assert 'value="My Kept Title"' in html and 'value="Kim"' in html
    assert '<option value="fr" selected>' in html
    assert not BookJob.objects.exists()


@pytest.mark.django_db
def test_too_many_pages_is_an_error_next_to_the_story_and_keeps_the_story(ada):
    story = " ".join(
        f"Sentence number {n} is long enough that two of them never share one page of the book." for n in range(60)
    )
    response = ada.post(reverse("books:new"), {"title": "Long", "story": story, "language": "en"})
    assert "at most 50 pages" in field_errors(response, "story")
    assert "Sentence number 59 is long enough" in response.content.decode()
    assert not BookJob.objects.exists()


@pytest.mark.django_db
def test_over_long_title_is_an_error_next_to_the_title_and_keeps_it(ada):
    title = "T" * 201
    response = ada.post(reverse("books:new"), {"title": title, "story": STORY, "language": "en"})
    assert "the limit is 200 characters" in field_errors(response, "title")
    html = response.content.decode()
    assert f'value="{title}"' in html and STORY in html
    assert not BookJob.objects.exists()


@pytest.mark.django_db
def test_several_errors_each_sit_next_to_their_field(ada):
    response = ada.post(reverse("books:new"), {"title": "", "story": STORY, "language": "en", "style": "s" * 301})
    assert "Title is required" in field_errors(response, "title")
    assert "under 300 characters" in field_errors(response, "style")


@pytest.mark.django_db
def test_unknown_language_is_refused_by_the_form(ada):
    response = ada.post(reverse("books:new"), {"title": "X", "story": STORY, "language": "xx"})
    assert "Select a valid choice" in field_errors(response, "language")


@pytest.mark.django_db
def test_non_utf8_upload_is_an_error_next_to_the_file_field(ada):
    upload = SimpleUploadedFile("story.txt", "Ёжик в тумане.".encode("cp1251"), content_type="text/plain")
    response = ada.post(reverse("books:new"), {"title": "Ёжик", "story_file": upload, "language": "ru"})
    assert "not UTF-8" in field_errors(response, "story_file")
    assert 'value="Ёжик"' in response.content.decode()
    assert not BookJob.objects.exists()


@pytest.mark.django_db
def test_too_big_upload_is_an_error_next_to_the_file_field(ada):
    upload = SimpleUploadedFile("story.txt", b"a" * 200_001, content_type="text/plain")
    response = ada.post(reverse("books:new"), {"title": "Big", "story_file": upload, "language": "en"})
    assert "at most 200,000 bytes" in field_errors(response, "story_file")
    assert not BookJob.objects.exists()


@pytest.mark.django_db
def test_story_in_both_box_and_file_is_refused(ada):
    upload = SimpleUploadedFile("story.txt", STORY.encode(), content_type="text/plain")
    response = ada.post(reverse("books:new"), {"title": "Both", "story": STORY, "story_file": upload, "language": "en"})
    assert "not both" in field_errors(response, "story_file")


@pytest.mark.django_db
def test_creating_a_book_redirects_to_its_page(ada, user):
    response = ada.post(
        reverse("books:new"),
        {"title": "Pip", "story": STORY, "author": "Kim", "language": "en", "end_text": "Goodnight", "style": "crayon"},
    )
    book = BookJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("books:detail", args=[book.pk])
    assert book.owner == user and book.author == "Kim" and book.params["style"] == "crayon"
    assert book.pages[-1] == {"number": 6, "kind": "end", "text": "Goodnight"}

    page = ada.get(response["Location"]).content.decode()
    assert "Your book is on its way" in page
    assert "Pip" in page and "The owl flew her over the sleeping hill" in page
    assert 'data-status-url="' + reverse("books:status", args=[book.pk]) + '"' in page
    assert "studio.js" in page  # polls while the book is being made


@pytest.mark.django_db
def test_uploaded_utf8_file_becomes_the_story(ada):
    text = Path("tests/fixtures/ezhik-ru.txt").read_text(encoding="utf-8")
    upload = SimpleUploadedFile("ezhik.txt", b"\xef\xbb\xbf" + text.encode(), content_type="text/plain")
    response = ada.post(reverse("books:new"), {"title": "Ёжик в тумане", "story_file": upload, "language": "ru"})
    assert response.status_code == 302
    book = BookJob.objects.get()
    assert book.story == text and book.language == "ru" and book.pages[-1]["text"] == "Конец"


@pytest.mark.django_db
def test_empty_uploaded_file_is_an_error_next_to_the_file_field(ada):
    upload = SimpleUploadedFile("story.txt", b"   \n", content_type="text/plain")
    response = ada.post(reverse("books:new"), {"title": "Empty", "story_file": upload, "language": "en"})
    assert "Write a story" in field_errors(response, "story_file")  # create_book's error, on the field used
    assert not BookJob.objects.exists()


# ---------------------------------------------------------------- the book page


@pytest.mark.django_db(transaction=True)
def test_finished_book_page_shows_pages_thumbnails_and_downloads(ada, book, run_worker):
    run_worker()
    html = ada.get(reverse("books:detail", args=[book.pk])).content.decode()
    assert "Completed" in html and "Book completed" in html
    for number in range(1, book.total_pages + 1):
        if book.pages[number - 1]["kind"] != "blank":
            assert reverse("books:thumbnail", args=[book.pk, number]) in html
    assert reverse("books:pdf", args=[book.pk, "review"]) in html
    assert reverse("books:pdf", args=[book.pk, "booklet"]) in html
    assert "Retry failed images" not in html
    assert "studio.js" not in html  # nothing left to poll for

    thumb = ada.get(reverse("books:thumbnail", args=[book.pk, 1]))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    pdf = ada.get(reverse("books:pdf", args=[book.pk, "review"]))
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")


@pytest.mark.django_db
def test_status_json_is_the_status_document(ada, book):
    response = ada.get(reverse("books:status", args=[book.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    doc = response.json()
    assert doc["job_id"] == str(book.pk) and doc["status"] == "pending"
    assert doc["images_total"] == GeneratedImage.objects.filter(book=book).count() and doc["images_done"] == 0
    assert [p["number"] for p in doc["pages"]] == list(range(1, book.total_pages + 1))


# ---------------------------------------------------------------- regeneration


@pytest.mark.django_db
def test_regenerate_enforces_csrf(user, book):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    BookJob.objects.filter(pk=book.pk).update(status=BookStatus.COMPLETED)
    GeneratedImage.objects.filter(book=book, page_number=2).update(status=ImageStatus.FAILED, error="refused")

    url = reverse("books:regenerate", args=[book.pk])
    assert client.post(url).status_code == 403
    book.refresh_from_db()
    assert book.status == BookStatus.COMPLETED

    page = client.get(reverse("books:detail", args=[book.pk])).content.decode()
    token = re.search(rf'action="{url}".*?name="csrfmiddlewaretoken" value="([^"]+)"', page, re.S).group(1)
    response = client.post(url, {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    book.refresh_from_db()
    assert book.status == BookStatus.PENDING


@pytest.mark.django_db
def test_regenerate_is_post_only(ada, book):
    assert ada.get(reverse("books:regenerate", args=[book.pk])).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_retry_button_posts_and_the_message_appears(ada, user, fake_openrouter, run_worker):
    fake_openrouter.script(
        "owl flew her", [Answer(status=400, body=error_body(400, "Content policy violation")), Answer()]
    )
    book = create_book(owner=user, title="Pip and the Moon", story=STORY)
    run_worker()
    detail = reverse("books:detail", args=[book.pk])
    html = ada.get(detail).content.decode()
    assert "Completed" in html and "Content policy violation" in html
    assert "Retry failed images (1)" in html
    assert f'action="{reverse("books:regenerate", args=[book.pk])}"' in html
    assert "1 failed" in ada.get(reverse("books:list")).content.decode()

    response = ada.post(reverse("books:regenerate", args=[book.pk]), follow=True)
    assert response.redirect_chain == [(detail, 302)]
    html = response.content.decode()
    assert "Regeneration started. Retrying 1 failed images." in html
    assert "Retry failed images" not in html  # the book is in progress again
    assert "studio.js" in html

    run_worker()
    html = ada.get(detail).content.decode()
    assert "Retry failed images" not in html and "Content policy violation" not in html
    assert "Retry round 1 ·" in html  # the page's retry_attempt
    assert (
        GeneratedImage.objects.filter(book=book, status=ImageStatus.COMPLETED).count()
        == GeneratedImage.objects.filter(book=book).count()
    )


@pytest.mark.django_db
def test_retry_with_nothing_to_retry_says_so(ada, book):
    BookJob.objects.filter(pk=book.pk).update(status=BookStatus.COMPLETED)
    GeneratedImage.objects.filter(book=book).update(status=ImageStatus.COMPLETED)
    response = ada.post(reverse("books:regenerate", args=[book.pk]), follow=True)
    assert "No failed images to retry." in response.content.decode()


@pytest.mark.django_db
def test_retry_while_in_progress_says_so(ada, book):
    response = ada.post(reverse("books:regenerate", args=[book.pk]), follow=True)
    assert "Cannot regenerate: job is still pending" in response.content.decode()


# ---------------------------------------------------------------- limits and unfinished books


@pytest.mark.django_db
def test_too_many_new_books_is_a_clear_error_that_keeps_the_input(ada, settings):
    settings.RATE_LIMIT_BOOKS_PER_HOUR = 1
    assert ada.post(reverse("books:new"), {"title": "One", "story": STORY, "language": "en"}).status_code == 302
    response = ada.post(reverse("books:new"), {"title": "Two", "story": STORY, "language": "en"})
    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many book requests" in html and 'value="Two"' in html
    assert BookJob.objects.count() == 1


@pytest.mark.django_db
def test_too_many_retries_is_a_message_on_the_book_page(ada, book, settings):
    settings.RATE_LIMIT_REGENERATIONS_PER_HOUR = 1
    url = reverse("books:regenerate", args=[book.pk])
    for expected in ["Regeneration started", "Too many regeneration requests"]:
        BookJob.objects.filter(pk=book.pk).update(status=BookStatus.COMPLETED)
        GeneratedImage.objects.filter(book=book, page_number=2).update(status=ImageStatus.FAILED)
        response = ada.post(url, follow=True)
        assert response.redirect_chain == [(reverse("books:detail", args=[book.pk]), 302)]
        assert expected in response.content.decode()


@pytest.mark.django_db
def test_a_failed_book_with_every_page_drawn_offers_to_try_again(ada, book):
    BookJob.objects.filter(pk=book.pk).update(status=BookStatus.FAILED, error="Rendering the PDFs failed (OSError).")
    GeneratedImage.objects.filter(book=book).update(status=ImageStatus.COMPLETED)
    html = ada.get(reverse("books:detail", args=[book.pk])).content.decode()
    assert "Rendering the PDFs failed (OSError)." in html
    assert "Try again</button>" in html and "Retry failed images" not in html
