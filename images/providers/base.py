"""The interface every image provider implements, and the errors that drive the retry policy."""

from dataclasses import dataclass
from typing import Protocol


class ProviderError(Exception):
    """A failed provider call. ``message`` is safe to show users and to log (never a secret)."""

    retryable = False

    def __init__(self, message: str, *, http_status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.retry_after = retry_after


class TransientProviderError(ProviderError):
    """Worth another try: rate limits, overload, timeouts, answers without an image."""

    retryable = True


class PermanentProviderError(ProviderError):
    """The same call would fail again: a refused prompt, a malformed request."""


class ProviderWideError(PermanentProviderError):
    """No call to this provider can succeed (bad key, no credits): stop the whole book."""


@dataclass(frozen=True)
class Picture:
    data: bytes
    model: str


class ImageProvider(Protocol):
    name: str
    model: str

    def generate(self, prompt: str) -> Picture:
        """One call to the provider. Raises a ProviderError subclass on failure."""
        ...
