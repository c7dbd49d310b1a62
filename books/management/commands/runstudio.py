"""Run the whole studio on one machine: embedded Redis, RQ workers, the cron scheduler, the web server."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from books.embedded_redis import embedded_redis_wanted, start_embedded_redis


class Command(BaseCommand):
    help = "Start the studio: embedded Redis (unless REDIS_URL is set), workers, rqcron and the web server."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, **options) -> None:
        # Stopped by SIGTERM (a service manager, `timeout`) as by Ctrl-C: the finally below stops the children.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        children: list[subprocess.Popen] = []
        env = dict(os.environ)
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        try:
            if embedded_redis_wanted():
                children.append(start_embedded_redis())
            for _ in range(options["workers"]):
                children.append(subprocess.Popen([*manage, "rqworker", "default"], env=env))
            children.append(subprocess.Popen([*manage, "rqcron", "books.cron", "--logging-level", "WARNING"], env=env))
            self.stdout.write(self.style.SUCCESS(f"Bookstudio is running at http://{options['addr']}/"))
            self.stdout.write(f"Admin: http://{options['addr']}/admin/  ·  Stop with Ctrl-C.")
            subprocess.run([*manage, "runserver", options["addr"], "--noreload"], env=env, check=False)
        except KeyboardInterrupt:
            pass
        finally:
            for child in reversed(children):
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(15)
                except subprocess.TimeoutExpired:
                    child.kill()
