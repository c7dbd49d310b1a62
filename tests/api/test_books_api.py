"""The JSON API over real HTTP handling (Django's test client), a real RQ worker and Redis."""

import json
import uuid
from pathlib import Path

import django_rq
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from books.auth import create_token
from books.models import ApiToken, BookJob, BookStatus
from books.services import create_book
from images.models import GeneratedImage
from tests.regeneration.stories import PAGES, REFUSED, REFUSED_PAGE, book_with_a_failed_page
from tests.support.fake_openrouter import Answer, error_body

pytestmark = pytest.mark.django_db(transaction=True)

BOOKS = "/api/v1/books"


def post_json(client, url, body, **headers):
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def queued_jobs() -> int:
    return django_rq.get_queue("default").count


# ---------------------------------------------------------------- creating books


def test_urls_are_the_fixed_names():
    book_id = uuid.uuid4()
    assert reverse("api:books") == BOOKS
    assert reverse("api:book", args=[book_id]) == f"{BOOKS}/{book_id}"
    assert reverse("api:regenerate", args=[book_id]) == f"{BOOKS}/{book_id}/regenerate"


def test_create_from_a_story(client, user, auth):
    story = Path("tests/fixtures/lantern-moon.txt").read_text(encoding="utf-8")
    response = post_json(client, BOOKS, {"title": "The Lantern and the Moon", "story": story, "style": "ink"}, **auth)

    assert response.status_code == 202, response.content
    body = response.json()
    book = BookJob.objects.get(pk=body["job_id"])
    assert body["status"] == "pending"
    assert body["status_url"] == f"http://testserver{BOOKS}/{book.pk}"
    assert response["Location"] == body["status_url"]
    assert book.owner == user and book.story == story and book.story_pages is None
    assert book.params == {"style": "ink", "end_text": "", "source": "api"}
    assert queued_jobs() >= 1


def test_create_from_structured_pages(client, user, auth):
    pages = [{"text": PAGES[0]}, PAGES[1], {"text": PAGES[2], "note": "extra keys are ignored"}]
    response = post_json(
        client, BOOKS, {"title": "Mira", "pages": pages, "language": "fr", "author": "Ada", "end_text": "Fin!"}, **auth
    )

    assert response.status_code == 202, response.content
    book = BookJob.objects.get(pk=response.json()["job_id"])
    assert book.story_pages == PAGES[:3]
    assert [page["text"] for page in book.pages] == ["Mira", *PAGES[:3], "", "Fin!"]  # blank pads to even
    assert (book.language, book.author) == ("fr", "Ada")
    assert response.json()["total_pages"] == book.total_pages == 6


def test_a_created_book_is_drawn_and_its_files_download_with_the_token(client, user, auth, run_worker):
    book_id = post_json(client, BOOKS, {"title": "Mira", "pages": PAGES}, **auth).json()["job_id"]
    run_worker()

    status = client.get(f"{BOOKS}/{book_id}", headers=auth).json()
    assert status["status"] == "completed" and status["failed_image_count"] == 0
    assert status["regenerate_url"] == f"http://testserver{BOOKS}/{book_id}/regenerate"
    review = status["pdfs"]["review"]
    assert review["url"] == f"http://testserver/books/{book_id}/pdf/review"
    cover = status["pages"][0]["image"]
    assert cover["url"].startswith("http://testserver/books/") and cover["thumbnail_url"].endswith("/thumb.jpg")

    pdf = client.get(review["url"], headers=auth)
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")
    assert client.get(cover["url"], headers=auth)["Content-Type"] == "image/jpeg"
    bad_token = client.get(review["url"], headers={"Authorization": "Bearer bks_nope"})
    assert bad_token.status_code == 401 and bad_token.json() == {"error": "Authentication required"}
    browser = client.get(review["url"])
    assert browser.status_code == 302 and browser["Location"].startswith("/accounts/login/")


def make_pages(count: int) -> list[str]:
    return [f"Page {n} of a very long story." for n in range(count)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": 7, "story": "A fox ran."}, "title"),
        ({"title": "Fox", "story": ["A fox ran."]}, "story"),
        ({"title": "Fox", "story": "A fox ran.", "author": {"name": "Ada"}}, "author"),
        ({"title": "Fox", "story": "A fox ran.", "language": 1}, "language"),
        ({"title": "Fox", "pages": "A fox ran."}, "pages"),
        ({"title": "Fox", "pages": ["A fox ran.", 3]}, "pages"),
        ({"title": "Fox", "pages": [{"words": "A fox ran."}]}, "pages"),
        ({"title": "Fox", "story": "   "}, "story"),
        ({"title": "Fox"}, "story"),
        ({"title": "", "story": "A fox ran."}, "title"),
        ({"title": "Fox", "pages": []}, "pages"),
        ({"title": "Fox", "pages": make_pages(51)}, "pages"),
        ({"title": "Fox", "story": "A fox ran.", "language": "xx"}, "language"),
        ({"title": "Fox", "story": "A fox ran.", "author": "A" * 201}, "author"),
        ({"title": "Fox", "story": "A fox ran.", "pages": ["A fox ran."]}, "story"),
        ({"title": "Fox", "stroy": "A fox ran."}, "stroy"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_stored(client, auth, body, field):
    response = post_json(client, BOOKS, body, **auth)

    assert response.status_code == 400, response.content
    assert response.json()["error"] == "Invalid input"
    assert field in response.json()["fields"], response.json()
    assert isinstance(response.json()["fields"][field], str) and response.json()["fields"][field]
    assert not BookJob.objects.exists() and not GeneratedImage.objects.exists()
    assert queued_jobs() == 0


@pytest.mark.parametrize(
    ("data", "content_type", "error", "field"),
    [
        ('{"title": "Fox", "story": ', "application/json", "Malformed JSON", "body"),
        (b"\xff\xfe\xfa", "application/json", "Malformed JSON", "body"),
        ("[" * 100_000 + "]" * 100_000, "application/json", "Malformed JSON", "body"),
        ('["Fox", "A fox ran."]', "application/json", "Invalid input", "body"),
        ('"A fox ran."', "application/json", "Invalid input", "body"),
        ("title=Fox&story=A+fox+ran.", "application/x-www-form-urlencoded", "Unsupported content type", "content_type"),
        ('{"title": "Fox", "story": "A fox ran."}', "text/plain", "Unsupported content type", "content_type"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_refused(client, auth, data, content_type, error, field):
    response = client.post(BOOKS, data=data, content_type=content_type, headers=auth)

    assert response.status_code == 400, response.content
    assert response.json()["error"] == error and field in response.json()["fields"]
    assert not BookJob.objects.exists()


def test_an_oversized_body_gets_a_json_413(client, auth, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post_json(client, BOOKS, {"title": "Fox", "story": "A fox ran. " * 200}, **auth)
    assert response.status_code == 413 and "body" in response.json()["fields"]
    assert not BookJob.objects.exists()


# ---------------------------------------------------------------- authentication and methods


@pytest.fixture
def someones_book(other_user):
    return create_book(owner=other_user, title="Bob's book", pages=PAGES[:1])


def every_endpoint(book_id) -> list[tuple[str, str]]:
    return [("get", BOOKS), ("post", BOOKS), ("get", f"{BOOKS}/{book_id}"), ("post", f"{BOOKS}/{book_id}/regenerate")]


def call(client, method, url, **headers):
    if method == "post":
        return post_json(client, url, {"title": "Fox", "story": "A fox ran."}, **headers)
    return client.get(url, headers=headers)


@pytest.mark.parametrize("credentials", ["none", "bad token", "revoked token", "token of an inactive user"])
def test_requests_without_valid_credentials_get_401(client, user, token, auth, someones_book, credentials):
    headers = {}
    if credentials == "bad token":
        headers = {"Authorization": "Bearer bks_not-a-real-token"}
    elif credentials == "revoked token":
        ApiToken.objects.update(revoked_at=timezone.now())
        headers = auth
    elif credentials == "token of an inactive user":
        type(user).objects.filter(pk=user.pk).update(is_active=False)
        headers = auth
    books_before = BookJob.objects.count()
    for method, url in every_endpoint(someones_book.pk):
        response = call(client, method, url, **headers)
        assert response.status_code == 401, (method, url, response.content)
        assert response.json() == {"error": "Authentication required"}
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert BookJob.objects.count() == books_before


def test_a_bad_token_is_not_rescued_by_a_session(client, user):
    client.force_login(user)
    response = client.get(BOOKS, headers={"Authorization": "Bearer bks_wrong"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("method", "url", "allow"),
    [
        ("put", BOOKS, "GET, POST"),
        ("delete", BOOKS, "GET, POST"),
        ("post", f"{BOOKS}/{uuid.uuid4()}", "GET"),
        ("delete", f"{BOOKS}/{uuid.uuid4()}", "GET"),
        ("get", f"{BOOKS}/{uuid.uuid4()}/regenerate", "POST"),
        ("patch", f"{BOOKS}/{uuid.uuid4()}/regenerate", "POST"),
    ],
)
def test_other_methods_get_405_with_allow(client, auth, method, url, allow):
    response = getattr(client, method)(url, headers=auth)
    assert response.status_code == 405
    assert response["Allow"] == allow
    assert "not allowed" in response.json()["error"]


@pytest.mark.parametrize("which", ["unknown", "someone else's", "not a uuid", "sql-ish"])
def test_books_that_are_not_yours_are_404(client, auth, someones_book, which):
    book_id = {
        "unknown": str(uuid.uuid4()),
        "someone else's": str(someones_book.pk),
        "not a uuid": "not-a-uuid",
        "sql-ish": "1' OR '1'='1",
    }[which]
    status = client.get(f"{BOOKS}/{book_id}", headers=auth)
    regenerate = client.post(f"{BOOKS}/{book_id}/regenerate", headers=auth)
    for response in (status, regenerate):
        assert response.status_code == 404
        assert response.json() == {"error": "Job not found"}
    assert BookJob.objects.get(pk=someones_book.pk).status == BookStatus.PENDING


# ---------------------------------------------------------------- listing


def test_the_list_shows_only_your_books_newest_first_in_pages(client, user, other_user, auth, settings):
    settings.BOOKS_PER_PAGE = 2
    mine = [create_book(owner=user, title=f"Mine {n}", pages=PAGES[:1]) for n in range(3)]
    create_book(owner=other_user, title="Bob's", pages=PAGES[:1])

    first = client.get(BOOKS, headers=auth).json()
    second = client.get(first["next"], headers=auth).json()

    assert (first["count"], first["num_pages"], first["page"]) == (3, 2, 1)
    assert [b["title"] for b in first["results"] + second["results"]] == ["Mine 2", "Mine 1", "Mine 0"]
    assert second["next"] is None and second["previous"] == f"http://testserver{BOOKS}?page=1"
    entry = first["results"][0]
    assert entry == {
        "job_id": str(mine[2].pk),
        "title": "Mine 2",
        "status": "pending",
        "progress": "Waiting for a worker",
        "total_pages": 4,
        "failed_image_count": 0,
        "created_at": mine[2].created_at.isoformat(),
        "url": f"http://testserver{BOOKS}/{mine[2].pk}",
    }


def test_an_empty_list_is_a_page_not_an_error(client, auth):
    assert client.get(BOOKS, headers=auth).json() == {
        "count": 0,
        "page": 1,
        "num_pages": 1,
        "next": None,
        "previous": None,
        "results": [],
    }


@pytest.mark.parametrize("page", ["0", "-1", "2", "abc", "1.5", "9" * 5000])
def test_a_bad_page_number_is_400(client, auth, page):
    response = client.get(BOOKS, {"page": page}, headers=auth)
    assert response.status_code == 400
    assert response.json()["error"] == "Invalid page" and "page" in response.json()["fields"]


# ---------------------------------------------------------------- regeneration


def test_regenerate_answers_202_then_400_while_pending_and_processing(client, user, auth, fake_openrouter, run_worker):
    book = book_with_a_failed_page(owner=user, fake=fake_openrouter, run_worker=run_worker)
    url = f"{BOOKS}/{book.pk}/regenerate"

    started = client.post(url, headers=auth)
    assert started.status_code == 202, started.content
    assert started.json() == {
        "job_id": str(book.pk),
        "status": "pending",
        "failed_image_count": 1,
        "message": "Regeneration started. Retrying 1 failed images.",
        "status_url": f"http://testserver{BOOKS}/{book.pk}",
    }

    pending = client.post(url, headers=auth)
    assert pending.status_code == 400
    assert pending.json()["error"] == "Cannot regenerate: job is still pending"

    # As a live worker leaves it: processing, its lease renewed into the future.
    BookJob.objects.filter(pk=book.pk).update(
        status=BookStatus.PROCESSING, lease_expires_at=timezone.now() + timezone.timedelta(minutes=1)
    )
    processing = client.post(url, headers=auth)
    assert processing.status_code == 400
    assert processing.json()["error"] == "Cannot regenerate: job is still processing"
    BookJob.objects.filter(pk=book.pk).update(status=BookStatus.PENDING)

    run_worker()
    done = client.get(f"{BOOKS}/{book.pk}", headers=auth).json()
    assert done["status"] == "completed" and done["failed_image_count"] == 0
    assert done["pages"][REFUSED_PAGE - 1]["image"]["retry_attempt"] == 1


def test_regenerate_with_nothing_failed_is_200(client, user, auth, run_worker):
    book = create_book(owner=user, title="All good", pages=PAGES)
    run_worker()

    response = client.post(f"{BOOKS}/{book.pk}/regenerate", headers=auth)

    assert response.status_code == 200
    assert response.json() == {
        "job_id": str(book.pk),
        "status": "completed",
        "failed_image_count": 0,
        "message": "No failed images to retry.",
        "status_url": f"http://testserver{BOOKS}/{book.pk}",
    }
    assert queued_jobs() == 0


# ---------------------------------------------------------------- CSRF


@pytest.fixture
def browser(user):
    """A logged-in browser whose POSTs must carry a CSRF token, as a real one's must."""
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


def test_session_posts_need_a_csrf_token(browser, auth):
    body = json.dumps({"title": "Fox", "story": "A fox ran."})

    forged = browser.post(BOOKS, data=body, content_type="application/json")
    assert forged.status_code == 403
    assert forged.json()["error"].startswith("CSRF check failed")
    assert not BookJob.objects.exists()

    csrf = "k" * 32  # a well-formed secret, as the csrftoken cookie a page handed out would hold
    browser.cookies["csrftoken"] = csrf
    allowed = browser.post(BOOKS, data=body, content_type="application/json", headers={"X-CSRFToken": csrf})
    assert allowed.status_code == 202, allowed.content

    book_id = allowed.json()["job_id"]
    assert browser.post(f"{BOOKS}/{book_id}/regenerate").status_code == 403
    assert browser.post(f"{BOOKS}/{book_id}/regenerate", headers={"X-CSRFToken": csrf}).status_code == 400


def test_bearer_requests_need_no_csrf_token(auth):
    client = Client(enforce_csrf_checks=True)
    response = post_json(client, BOOKS, {"title": "Fox", "story": "A fox ran."}, **auth)
    assert response.status_code == 202, response.content
    regenerate = client.post(f"{BOOKS}/{response.json()['job_id']}/regenerate", headers=auth)
    assert regenerate.status_code == 400  # still pending: past authentication and CSRF


def test_session_gets_work_without_csrf(browser):
    assert browser.get(BOOKS).status_code == 200


def test_each_token_sees_its_own_users_books(client, user, other_user, auth):
    bob = {"Authorization": f"Bearer {create_token(user=other_user)[1]}"}
    post_json(client, BOOKS, {"title": "Ada's", "story": "A fox ran."}, **auth)
    post_json(client, BOOKS, {"title": "Bob's", "story": "A fox ran."}, **bob)
    assert [b["title"] for b in client.get(BOOKS, headers=auth).json()["results"]] == ["Ada's"]
    assert [b["title"] for b in client.get(BOOKS, headers=bob).json()["results"]] == ["Bob's"]


# ---------------------------------------------------------------- rate limits


def test_creating_past_the_hourly_limit_is_429(client, auth, settings):
    settings.RATE_LIMIT_BOOKS_PER_HOUR = 1
    assert post_json(client, BOOKS, {"title": "One", "story": "A fox ran."}, **auth).status_code == 202

    response = post_json(client, BOOKS, {"title": "Two", "story": "A fox ran."}, **auth)

    assert response.status_code == 429
    assert "1 an hour" in response.json()["error"]
    assert 0 < int(response["Retry-After"]) == response.json()["retry_after"] <= 3600
    assert list(BookJob.objects.values_list("title", flat=True)) == ["One"]


def test_regenerating_past_the_hourly_limit_is_429(client, user, auth, fake_openrouter, run_worker, settings):
    # Scripted first, so it wins: the page is refused every time and stays retryable.
    fake_openrouter.script(REFUSED, [Answer(status=400, body=error_body(400, "Content policy violation"))])
    book = book_with_a_failed_page(owner=user, fake=fake_openrouter, run_worker=run_worker)
    settings.RATE_LIMIT_REGENERATIONS_PER_HOUR = 1
    assert client.post(f"{BOOKS}/{book.pk}/regenerate", headers=auth).status_code == 202
    run_worker()

    response = client.post(f"{BOOKS}/{book.pk}/regenerate", headers=auth)

    assert response.status_code == 429 and "Retry-After" in response
    assert BookJob.objects.get(pk=book.pk).status == BookStatus.COMPLETED
