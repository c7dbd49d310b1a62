"""The studio in a real browser: headless Chromium, the live server, a real RQ worker process and
the fake OpenRouter server over HTTP."""

import io
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from books.models import BookJob, BookPdf, BookStatus
from books.services import create_book
from images.models import GeneratedImage, ImageStatus
from tests.browser.conftest import sign_in
from tests.support.fake_openrouter import Answer, error_body
from tests.support.workers import WorkerProcess

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REFUSED_WORDS = "scarecrow who waved his straw hand"  # the words of exactly one page


@pytest.fixture
def worker(transactional_db, live_server, fake_openrouter, tmp_path):
    """A long-running `manage.py rqworker` using the fake OpenRouter, stopped after the test."""
    fake_openrouter.latency = 0.3  # slow enough for the progress bar to be seen moving
    log = tmp_path / "worker.log"
    process = WorkerProcess(
        log=log,
        env={
            "IMAGE_PROVIDER": "openrouter",
            "OPENROUTER_BASE_URL": fake_openrouter.url,
            "OPENROUTER_API_KEY": "sk-or-test-secret-key-0123456789",
            "IMAGE_MODEL": "fake/image-model",
            "IMAGE_RETRY_BACKOFF": "0.01",
            "IMAGE_CONCURRENCY": "2",
            "LOG_LEVEL": "WARNING",
        },
    ).start()
    process.log_path = log
    yield process
    process.stop()


def watch_until_finished(page, *, timeout: float = 90, midway_screenshot=None) -> list[dict]:
    """Sample the book page until the finished page (after its one reload) shows no live bar.

    Each sample says whether it was taken on the page as first loaded (window.__firstLoad, which a
    reload clears), so the test can tell in-place updates from reloads.
    """
    samples = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            sample = page.evaluate(
                """() => {
                    const bar = document.querySelector('[data-progress-bar]');
                    return {
                        firstLoad: window.__firstLoad === true,
                        status: document.querySelector('[data-book-status]').textContent.trim(),
                        done: Number(bar.getAttribute('aria-valuenow')),
                        total: Number(bar.getAttribute('aria-valuemax')),
                        width: bar.firstElementChild.style.width,
                        thumbnails: document.querySelectorAll('.page-grid img').length,
                        live: bar.classList.contains('bar-live'),
                    };
                }"""
            )
        except Exception:  # the page is reloading; sample again
            time.sleep(0.05)
            continue
        samples.append(sample)
        if midway_screenshot and sample["firstLoad"] and 0 < sample["done"] < sample["total"]:
            page.screenshot(path=str(midway_screenshot), full_page=True)
            midway_screenshot = None
        # Only the server renders a finished page without the live bar, so this is the reloaded page.
        if not sample["live"] and sample["status"] in {"Completed", "Failed"}:
            return samples
        time.sleep(0.1)
    raise AssertionError(f"the book did not finish; last samples: {samples[-3:]}")


def assert_moved_in_place(samples: list[dict]) -> None:
    in_place = [s for s in samples if s["firstLoad"]]
    assert any(0 < s["done"] < s["total"] for s in in_place), in_place
    assert any(s["thumbnails"] > 0 for s in in_place), "thumbnails should appear without a reload"
    widths = [s["width"] for s in in_place]
    assert len(set(widths)) >= 2, widths


def test_make_a_book_retry_its_refused_page_and_download_it(
    new_page, live_server, user, fake_openrouter, worker, artifacts
):
    fake_openrouter.script(
        REFUSED_WORDS, [Answer(status=400, body=error_body(400, "Content policy violation")), Answer()]
    )
    page = new_page()
    sign_in(page, live_server.url, "ada", "pass-ada-123")

    page.get_by_role("link", name="New book").first.click()
    page.get_by_label("Title").fill("Pip and the Lantern Moon")
    page.get_by_label("Author").fill("Ada")
    page.get_by_label("Story", exact=True).fill(Path("tests/fixtures/lantern-moon.txt").read_text(encoding="utf-8"))
    page.get_by_role("button", name="Make the book").click()
    page.get_by_text("Your book is on its way").wait_for()  # the book page, after the redirect
    page.evaluate("window.__firstLoad = true")
    book = BookJob.objects.get()
    assert page.url == f"{live_server.url}/books/{book.pk}"
    total = GeneratedImage.objects.filter(book=book).count()

    # First run: the bar moves in place, then the book completes with one page refused.
    assert_moved_in_place(watch_until_finished(page, midway_screenshot=artifacts / "book-page-drawing.png"))
    assert page.locator("[data-book-status]").inner_text() == "Completed"
    assert page.locator("[data-progress-bar]").get_attribute("aria-valuenow") == str(total)
    refused = page.locator(".page-card", has_text="scarecrow")
    assert refused.locator("[data-page-badge]").inner_text() == "Failed"
    assert "Content policy violation" in refused.locator("[data-page-error]").inner_text()
    assert page.locator('[data-page-badge]:text-is("Done")').count() == total - 1
    assert page.locator(".page-grid img").count() == total - 1
    page.screenshot(path=str(artifacts / "book-page-one-failed.png"), full_page=True)

    # Retry: the message appears, the page is drawn on the second call and shows its retry round.
    page.get_by_role("button", name="Retry failed images (1)").click()
    page.get_by_text("Regeneration started. Retrying 1 failed images.").wait_for()
    watch_until_finished(page)
    assert page.locator("[data-book-status]").inner_text() == "Completed"
    assert page.get_by_role("button", name="Retry failed images").count() == 0
    assert page.locator('[data-page-badge]:text-is("Done")').count() == total
    assert page.locator(".page-grid img").count() == total
    assert refused.locator("[data-page-error]").is_hidden()
    assert refused.locator("[data-retry-note]").inner_text().startswith("Retry round 1 ·")
    assert len(fake_openrouter.calls_for(REFUSED_WORDS)) == 2
    book.refresh_from_db()
    assert book.status == BookStatus.COMPLETED
    assert not GeneratedImage.objects.filter(book=book).exclude(status=ImageStatus.COMPLETED).exists()

    # Every thumbnail actually loaded (a broken image has naturalWidth 0).
    page.wait_for_function(
        "[...document.querySelectorAll('.page-grid img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    page.screenshot(path=str(artifacts / "book-page.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts / "book-page-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download review copy").click()
    download = download_info.value
    assert download.suggested_filename == "pip-and-the-lantern-moon-review.pdf"
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"%PDF")
    review = BookPdf.objects.get(book=book, kind="review")
    assert len(PdfReader(io.BytesIO(data)).pages) == review.page_count == total
    assert page.js_errors == []


def test_another_user_gets_404_for_the_book_page_and_its_pdf(
    new_page, live_server, user, other_user, run_worker, artifacts
):
    create_book(owner=user, title="The Otter's Boat", story="An otter built a boat. It sank. She built another.")
    book = create_book(
        owner=user, title="Ada's Secret Garden", story="A small seed grew. It became a rose. The end came."
    )
    run_worker()

    ada = new_page()
    sign_in(ada, live_server.url, "ada", "pass-ada-123")
    ada.screenshot(path=str(artifacts / "my-books.png"), full_page=True)
    ada.get_by_role("link", name="Ada's Secret Garden").click()
    book_url = ada.url
    pdf_href = ada.get_by_role("link", name="Download review copy").get_attribute("href")
    pdf_url = live_server.url + pdf_href
    assert ada.request.get(pdf_url).body().startswith(b"%PDF")

    bob = new_page(width=390, height=844)
    sign_in(bob, live_server.url, "bob", "pass-bob-123")
    assert bob.get_by_text("No books yet").is_visible()
    assert bob.get_by_text("Ada's Secret Garden").count() == 0
    bob.screenshot(path=str(artifacts / "empty-list-phone.png"), full_page=True)
    assert bob.goto(book_url).status == 404
    assert bob.request.get(pdf_url).status == 404
    assert bob.request.get(live_server.url + f"/books/{book.pk}/status").status == 404

    # Signing out is a POST form; afterwards the book page asks for a sign-in again.
    ada.get_by_role("button", name="Sign out").click()
    ada.get_by_role("heading", name="Sign in").wait_for()
    ada.goto(book_url)
    assert "/accounts/login/" in ada.url


def test_form_errors_show_next_to_their_fields_and_keep_the_input(new_page, live_server, user, artifacts):
    page = new_page()
    sign_in(page, live_server.url, "ada", "pass-ada-123")
    page.goto(live_server.url + "/books/new")
    page.get_by_label("Title").fill("T" * 201)
    page.get_by_label("Author").fill("Ada")
    page.get_by_label("Story", exact=True).fill("A seed grew into a rose.")
    page.get_by_label("Illustration style").fill("s" * 301)
    page.get_by_role("button", name="Make the book").click()

    title = page.locator("#field-title")
    assert "the limit is 200 characters" in title.locator(".error").inner_text()
    assert page.get_by_label("Title").input_value() == "T" * 201
    assert "under 300 characters" in page.locator("#field-style .error").inner_text()
    assert page.get_by_label("Author").input_value() == "Ada"
    assert page.get_by_label("Story", exact=True).input_value() == "A seed grew into a rose."
    page.screenshot(path=str(artifacts / "new-book-errors.png"), full_page=True)
    assert not BookJob.objects.exists()
