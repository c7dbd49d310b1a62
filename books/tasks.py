"""RQ entry points. Each is one call into books.services; the rules live there."""

from books import services


def draw_pages(book_id: str) -> None:
    services.draw_pages(book_id=book_id)


def render_book(book_id: str) -> None:
    services.render_book(book_id=book_id)


def recover_orphaned_books() -> int:
    return services.recover_orphaned_books()
