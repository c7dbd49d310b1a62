from django.core.management.base import BaseCommand

from books.services import recover_orphaned_books


class Command(BaseCommand):
    help = "Mark books whose worker died as failed, so they can be regenerated (also runs every 30 s via rqcron)."

    def handle(self, *args, **options) -> None:
        count = recover_orphaned_books()
        self.stdout.write(f"Recovered {count} orphaned book(s).")
