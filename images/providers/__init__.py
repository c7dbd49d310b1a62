from django.conf import settings

from images.providers.base import (
    ImageProvider,
    PermanentProviderError,
    Picture,
    ProviderError,
    ProviderWideError,
    TransientProviderError,
)

__all__ = [
    "ImageProvider",
    "PermanentProviderError",
    "Picture",
    "ProviderError",
    "ProviderWideError",
    "TransientProviderError",
    "get_provider",
]


def get_provider() -> ImageProvider:
    """The provider named by IMAGE_PROVIDER, wrapped in fault drills when IMAGE_FAULT_RATE is set."""
    name = settings.IMAGE_PROVIDER
    provider: ImageProvider
    if name == "local":
        from images.providers.local import LocalIllustrator

        provider = LocalIllustrator()
    elif name == "openrouter":
        from images.providers.openrouter import OpenRouterProvider

        provider = OpenRouterProvider.from_settings()
    else:
        raise ValueError(f"Unknown IMAGE_PROVIDER {name!r}: use 'local' or 'openrouter'.")
    if settings.IMAGE_FAULT_RATE > 0:
        from images.providers.faults import FaultInjectingProvider

        provider = FaultInjectingProvider(provider, rate=settings.IMAGE_FAULT_RATE)
    return provider
