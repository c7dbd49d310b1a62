"""Simultaneous regenerate requests start exactly one regeneration (PostgreSQL: real row-level races)."""

import threading
from collections import Counter

import django_rq
import pytest
from django.db import connection
from django.test import Client

from books.auth import create_token
from books.models import BookJob, BookStatus
from books.services import RegenerationOutcome, start_regeneration
from images.models import GeneratedImage
from tests.regeneration.stories import book_with_a_failed_page

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: SQLite serializes every write, so the requests cannot race (CI runs this on PostgreSQL)"
        )


def all_at_once(action) -> list:
    """Run ``action`` in THREADS threads released together by a barrier; their results, in any order."""
    barrier = threading.Barrier(THREADS)
    results, errors = [], []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(action())
        except Exception as exc:  # surfaced by the assertion below, with the thread's error
            errors.append(exc)
        finally:
            connection.close()  # each thread opened its own connection

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert len(results) == THREADS
    return results


def assert_one_set_of_draw_jobs(book: BookJob) -> None:
    book.refresh_from_db()
    queue = django_rq.get_queue("default")
    assert book.rq_job_ids and set(queue.job_ids) == set(book.rq_job_ids)
    assert all("-draw-" in job_id for job_id in queue.job_ids)


def test_simultaneous_api_requests_start_one_regeneration(user, fake_openrouter, run_worker):
    book = book_with_a_failed_page(owner=user, fake=fake_openrouter, run_worker=run_worker)
    headers = {"Authorization": f"Bearer {create_token(user=user)[1]}"}

    responses = all_at_once(lambda: Client().post(f"/api/v1/books/{book.pk}/regenerate", headers=headers))

    codes = Counter(response.status_code for response in responses)
    assert codes == {202: 1, 400: THREADS - 1}, [r.content for r in responses]
    refused = [r.json() for r in responses if r.status_code == 400]
    assert all(body["error"].startswith("Cannot regenerate: job is still") for body in refused)
    assert_one_set_of_draw_jobs(book)
    assert GeneratedImage.objects.get(book=book, status="pending").retry_attempt == 1  # reset once, not 8 times

    run_worker()
    book.refresh_from_db()
    assert book.status == BookStatus.COMPLETED and not book.images.filter(status="failed").exists()


def test_simultaneous_service_calls_start_one_regeneration(user, fake_openrouter, run_worker):
    book = book_with_a_failed_page(owner=user, fake=fake_openrouter, run_worker=run_worker)

    results = all_at_once(lambda: start_regeneration(book_id=book.pk, user=user))

    outcomes = Counter(result.outcome for result in results)
    assert outcomes[RegenerationOutcome.STARTED] == 1, outcomes
    assert outcomes[RegenerationOutcome.IN_PROGRESS] == THREADS - 1, outcomes
    started = next(r for r in results if r.outcome is RegenerationOutcome.STARTED)
    assert started.failed_image_count == 1
    assert_one_set_of_draw_jobs(book)
    assert GeneratedImage.objects.filter(book=book, retry_attempt=1).count() == 1
