import json
import sys
import threading
import time
from pathlib import Path

import django_rq
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from rq import Worker

from books.embedded_redis import embedded_redis_wanted, start_embedded_redis
from books.models import BookJob, BookPdf
from books.selectors import book_status
from books.services import InvalidBook, create_book
from books.workers import drain_queue_here


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = round(width * done / total) if total else 0
    return "[" + "#" * filled + "-" * (width - filled) + f"] {done}/{total}"


class Command(BaseCommand):
    help = "Make a picture book from a story file (.txt, or .json with title and pages) and print where its PDFs are."

    def add_arguments(self, parser) -> None:
        parser.add_argument("story", type=Path)
        parser.add_argument("--title", default="")
        parser.add_argument("--author", default="")
        parser.add_argument("--language", default="en")
        parser.add_argument("--style", default="")
        parser.add_argument("--end-text", default="")
        parser.add_argument("--user", default="studio", help="Owner of the book (created if missing).")
        parser.add_argument("--timeout", type=float, default=1800)

    def handle(self, *args, **options) -> None:
        path: Path = options["story"]
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        title, story, pages = options["title"], raw, None
        if path.suffix == ".json":
            try:
                data = json.loads(raw)
                pages = [p["text"] if isinstance(p, dict) else str(p) for p in data["pages"]]
            except (ValueError, KeyError, TypeError) as exc:
                raise CommandError(f"{path} is not a story JSON with a 'pages' list: {exc}") from exc
            title, story = title or str(data.get("title", "")), ""
        elif not title:
            title = next((line.strip() for line in raw.splitlines() if line.strip()), "")
        embedded = start_embedded_redis() if embedded_redis_wanted() else None
        try:
            self._make(options, title=title, story=story, pages=pages)
        finally:
            if embedded is not None:
                embedded.terminate()

    def _make(self, options: dict, *, title: str, story: str, pages: list[str] | None) -> None:
        owner, _ = get_user_model().objects.get_or_create(username=options["user"])
        try:
            book = create_book(
                owner=owner, title=title, story=story, pages=pages, author=options["author"],
                language=options["language"], end_text=options["end_text"], style=options["style"], source="cli",
            )  # fmt: skip
        except InvalidBook as exc:
            raise CommandError("; ".join(f"{field}: {message}" for field, message in exc.errors.items())) from exc
        self.stdout.write(f"Book {book.pk}: {book.total_pages} pages")
        self._wait(book, timeout=options["timeout"])

    def _wait(self, book: BookJob, *, timeout: float) -> None:
        queue = django_rq.get_queue("default")
        stop = threading.Event()
        watcher = threading.Thread(target=self._show_progress, args=(book.pk, stop), daemon=True)
        watcher.start()
        if not Worker.all(queue=queue):
            self.stdout.write("No worker is running: making the book in this process.")
            drain_queue_here()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            book.refresh_from_db()
            if not book.in_progress:
                break
            time.sleep(0.5)
        stop.set()
        watcher.join()
        book.refresh_from_db()
        status = book_status(book)
        sys.stdout.write("\n")
        if book.in_progress:
            raise CommandError(f"Gave up waiting after {timeout:g} s; the book is still {book.status}.")
        if book.status != "completed":
            raise CommandError(f"The book failed: {book.error}")
        failed = [page["number"] for page in status["pages"] if page["image"] and page["image"]["status"] == "failed"]
        if failed:
            self.stdout.write(self.style.WARNING(f"Pages without an illustration: {failed} (regenerate them later)."))
        for pdf in BookPdf.objects.filter(book=book):
            where = default_storage.path(pdf.file.name) if hasattr(default_storage, "path") else pdf.file.name
            self.stdout.write(f"{pdf.get_kind_display()}: {where} ({pdf.page_count} pages, {pdf.size_bytes} bytes)")

    def _show_progress(self, book_id, stop: threading.Event) -> None:
        try:
            while not stop.wait(0.3):
                status = book_status(BookJob.objects.get(pk=book_id))
                line = f"\r{_bar(status['images_done'], status['images_total'])} {status['progress'][:36]:<36}"
                sys.stdout.write(line)
                sys.stdout.flush()
        finally:
            connection.close()  # this thread's own connection
