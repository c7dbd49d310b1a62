"""OpenRouter's chat completions API with image output, over one pooled requests session."""

import base64
import binascii
import email.utils
import threading
import time

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from images.providers.base import (
    PermanentProviderError,
    Picture,
    ProviderError,
    ProviderWideError,
    TransientProviderError,
)

TRANSIENT_STATUSES = {
    408: "Provider request timeout",
    425: "Provider asked to retry later",
    429: "Rate limited by the provider",
    500: "Provider error",
    502: "Provider upstream error",
    503: "Provider overloaded",
    504: "Provider gateway timeout",
}
PERMANENT_STATUSES = {
    400: "Request rejected by the provider",
    403: "Forbidden by the provider",
    404: "Model or endpoint not found at the provider",
    422: "Provider could not process the request",
}
PROVIDER_WIDE_STATUSES = {
    401: "The provider rejected the API key",
    402: "The provider account is out of credits",
}
POLICY_WORDS = ("policy", "moderat", "safety", "refus", "flagged", "blocked")

_session_lock = threading.Lock()
_sessions: dict[str, requests.Session] = {}


def pooled_session(base_url: str) -> requests.Session:
    """One session per process and endpoint, so calls reuse open connections."""
    with _session_lock:
        session = _sessions.get(base_url)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=64)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _sessions[base_url] = session
        return session


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now; it may be a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class OpenRouterProvider:
    name = "openrouter"

    def __init__(self, *, api_key: str, base_url: str, model: str, timeout: float):
        self.model = model
        self._api_key = api_key
        self._url = f"{base_url.rstrip('/')}/chat/completions"
        self._timeout = timeout
        self._session = pooled_session(base_url)

    def __repr__(self) -> str:  # the key must never reach a log line through repr()
        return f"OpenRouterProvider(model={self.model!r}, url={self._url!r})"

    @classmethod
    def from_settings(cls) -> "OpenRouterProvider":
        return cls(
            api_key=settings.OPENROUTER_API_KEY,
            base_url=settings.OPENROUTER_BASE_URL,
            model=settings.IMAGE_MODEL,
            timeout=settings.IMAGE_TIMEOUT,
        )

    def generate(self, prompt: str) -> Picture:
        if not self._api_key:
            raise ProviderWideError("OPENROUTER_API_KEY is not set")
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "modalities": ["image", "text"],
        }
        headers = {"Authorization": f"Bearer {self._api_key}", "X-Title": "Bookstudio"}
        try:
            response = self._session.post(self._url, json=body, headers=headers, timeout=self._timeout)
        except requests.Timeout as exc:
            raise TransientProviderError(f"Provider timed out after {self._timeout:g} s") from exc
        except requests.ConnectionError as exc:
            raise TransientProviderError("Could not connect to the provider") from exc
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            # Neither is a ConnectionError: uncaught, a dropped answer skipped every retry.
            raise TransientProviderError("The connection to the provider broke off mid-answer") from exc
        payload = self._json(response)
        if response.status_code != 200:
            raise self._error_for(response.status_code, payload, response.headers.get("Retry-After"))
        error = payload.get("error") if isinstance(payload, dict) else None
        if error:
            code = error.get("code") if isinstance(error, dict) else None
            status = code if isinstance(code, int) else 502
            raise self._error_for(status, payload, None)
        return Picture(data=self._image_bytes(payload), model=str(payload.get("model") or self.model))

    @staticmethod
    def _json(response: requests.Response) -> dict:
        try:
            payload = response.json()
        except ValueError:
            return {}
        return payload if isinstance(payload, dict) else {}

    def _clean(self, text: str) -> str:
        if self._api_key:
            text = text.replace(self._api_key, "[redacted]")
        return " ".join(text.split())[:200]

    def _error_for(self, status: int, payload: dict, retry_after: str | None) -> ProviderError:
        error = payload.get("error")
        detail = self._clean(str(error.get("message", ""))) if isinstance(error, dict) else ""
        if status in PROVIDER_WIDE_STATUSES:
            return ProviderWideError(f"{PROVIDER_WIDE_STATUSES[status]} (HTTP {status})", http_status=status)
        if status in TRANSIENT_STATUSES or status >= 500:
            label = TRANSIENT_STATUSES.get(status, "Provider error")
            return TransientProviderError(
                f"{label} (HTTP {status})", http_status=status, retry_after=parse_retry_after(retry_after)
            )
        if status == 400 and any(word in detail.lower() for word in POLICY_WORDS):
            label = "Refused by the provider's content policy"
        else:
            label = PERMANENT_STATUSES.get(status, "Request rejected by the provider")
        message = f"{label} (HTTP {status})"
        return PermanentProviderError(f"{message}: {detail}" if detail else message, http_status=status)

    @staticmethod
    def _image_bytes(payload: dict) -> bytes:
        try:
            url = payload["choices"][0]["message"]["images"][0]["image_url"]["url"]
        except (KeyError, IndexError, TypeError):
            raise TransientProviderError("The model answered without an image") from None
        if not isinstance(url, str) or not url.startswith("data:") or "," not in url:
            raise TransientProviderError("The model's image was not a data URL")
        try:
            return base64.b64decode(url.split(",", 1)[1], validate=False)
        except (binascii.Error, ValueError):
            raise TransientProviderError("The model's image was not valid base64") from None
