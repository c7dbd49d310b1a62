"""Property-based tests of the JSON API: whatever arrives, never a 500, always a JSON answer, and
nothing stored for a rejected request."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from books.models import BookJob
from images.models import GeneratedImage

pytestmark = pytest.mark.django_db

FIELDS = ["title", "story", "pages", "author", "language", "end_text", "style"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=300),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=12), json_values, max_size=8),
    st.fixed_dictionaries(
        {"title": st.text(max_size=250)},
        optional={
            "story": st.text(max_size=2000),
            "pages": st.lists(
                st.text(max_size=200) | st.fixed_dictionaries({"text": st.text(max_size=200)}), max_size=60
            ),
            "language": st.sampled_from(["en", "ru", "zz", ""]),
            "author": st.text(max_size=250),
            "end_text": st.text(max_size=120),
        },
    ),
    json_values,
)
LIMITS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check(response, before: int) -> None:
    assert response.status_code < 500
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    if response.status_code == 202:
        assert BookJob.objects.count() == before + 1
        assert BookJob.objects.filter(pk=body["job_id"]).exists()
    else:
        assert response.status_code in {400, 413, 415, 429}
        assert isinstance(body.get("error"), str) and body["error"]
        assert BookJob.objects.count() == before


@LIMITS
@given(body=bodies)
def test_random_json_bodies(client, auth, body):
    before = BookJob.objects.count()
    response = client.post("/api/v1/books", data=json.dumps(body), content_type="application/json", headers=auth)
    _check(response, before)


@LIMITS
@given(
    raw=st.binary(max_size=2000),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""]
    ),
)
def test_random_bytes_and_content_types(client, auth, raw, content_type):
    before = BookJob.objects.count()
    response = client.post("/api/v1/books", data=raw, content_type=content_type, headers=auth)
    _check(response, before)


def test_deep_nesting_and_huge_fields(client, auth):
    before = BookJob.objects.count()
    deep = "[" * 100_000 + "]" * 100_000
    response = client.post("/api/v1/books", data=deep, content_type="application/json", headers=auth)
    _check(response, before)
    huge = json.dumps({"title": "x" * 10_000, "story": "word " * 200_000})
    response = client.post("/api/v1/books", data=huge, content_type="application/json", headers=auth)
    _check(response, before)
    assert not GeneratedImage.objects.exists()


@LIMITS
@given(book_id=st.text(max_size=80).filter(lambda s: "/" not in s and "?" not in s and "#" not in s))
def test_any_book_id_is_a_json_404_never_a_500(client, auth, book_id):
    from urllib.parse import quote

    for method, suffix in (("get", ""), ("post", "/regenerate")):
        response = getattr(client, method)(f"/api/v1/books/{quote(book_id, safe='')}{suffix}", headers=auth)
        assert response.status_code == 404
        assert response.json() in ({"error": "Job not found"}, {"error": "Not found"})
