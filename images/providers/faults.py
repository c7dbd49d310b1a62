import random

from images.providers.base import ImageProvider, Picture, TransientProviderError


class FaultInjectingProvider:
    """Fault drills: fails a share of calls with a transient error before they reach the provider."""

    def __init__(self, inner: ImageProvider, *, rate: float, rng: random.Random | None = None):
        self.inner = inner
        self.rate = rate
        self.name = inner.name
        self.model = inner.model
        self._rng = rng or random.Random()

    def generate(self, prompt: str) -> Picture:
        if self._rng.random() < self.rate:
            raise TransientProviderError("Injected fault (IMAGE_FAULT_RATE): provider overloaded", http_status=503)
        return self.inner.generate(prompt)
