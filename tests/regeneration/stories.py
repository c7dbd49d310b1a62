"""A small book whose third page the fake provider refuses once, shared by the API and regeneration tests."""

from books.models import BookJob, BookStatus
from books.services import create_book
from tests.support.fake_openrouter import Answer, FakeOpenRouter, error_body

PAGES = [
    "Mira the mole dug a long tunnel under the garden.",
    "She found a shiny marble glowing like the moon.",
    "Her friend the beetle juggled three tiny pebbles.",
    "At night they watched fireflies dance over the pond.",
]
REFUSED = "juggled three tiny pebbles"  # only the third content page's prompt holds these words
REFUSED_PAGE = 4  # cover is page 1
ILLUSTRATED_PAGES = 6  # cover, four story pages, end


def refuse_once(fake: FakeOpenRouter, substring: str = REFUSED) -> None:
    """The page is refused for good on its first round and drawn on the next."""
    fake.script(substring, [Answer(status=400, body=error_body(400, "Content policy violation")), Answer()])


def book_with_a_failed_page(*, owner, fake: FakeOpenRouter, run_worker, title: str = "Mira's Marble") -> BookJob:
    """A completed book with exactly one page left without an illustration."""
    refuse_once(fake)
    book = create_book(owner=owner, title=title, pages=PAGES)
    run_worker()
    book.refresh_from_db()
    assert book.status == BookStatus.COMPLETED, book.error
    assert book.images.filter(status="failed").count() == 1
    return book
