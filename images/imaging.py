"""Turning a provider's bytes into what we store: a verified print JPEG and a thumbnail, made once."""

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageOps

from images.providers.base import TransientProviderError

# A5 is 148 x 210 mm; the illustration spans the page width, so 1024 px on the long side
# prints at well over 150 DPI while keeping both PDFs of a 50-page book small.
PRINT_LONG_SIDE = 1024
PRINT_QUALITY = 85
THUMB_SIZE = (240, 320)


@dataclass(frozen=True)
class PreparedImage:
    print_jpeg: bytes
    thumbnail_jpeg: bytes
    width: int
    height: int


def _encode(image: Image.Image, quality: int) -> bytes:
    # Baseline, not progressive: half the encoding time and no larger here, and some print RIPs
    # still choke on progressive JPEGs inside PDFs.
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def prepare_image(data: bytes) -> PreparedImage:
    """Verify untrusted image bytes and derive the stored JPEGs.

    Bytes that are not a decodable image, or that would decode to more than IMAGE_MAX_PIXELS
    (a decompression bomb), raise TransientProviderError: the next call may well be fine.
    """
    if len(data) > settings.IMAGE_MAX_BYTES:
        raise TransientProviderError(f"The provider's image was larger than {settings.IMAGE_MAX_BYTES} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            width, height = probe.size
            if width * height > settings.IMAGE_MAX_PIXELS:
                raise TransientProviderError(f"The provider's image was too large ({width}x{height} pixels)")
            probe.verify()  # checks structure; the image must be reopened afterwards
            image = Image.open(io.BytesIO(data))
            image.load()
    except TransientProviderError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TransientProviderError("The provider's answer was not a decodable image") from exc
    image = ImageOps.exif_transpose(image)
    if image.mode != "RGB":
        background = Image.new("RGB", image.size, "white")
        rgba = image.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    image.thumbnail((PRINT_LONG_SIDE, PRINT_LONG_SIDE), Image.Resampling.LANCZOS)
    thumb = image.copy()
    # Halve first with a box filter (reducing_gap): the LANCZOS pass gets a quarter of the pixels,
    # and a 240 px preview comes out the same to the eye.
    thumb.thumbnail(THUMB_SIZE, Image.Resampling.LANCZOS, reducing_gap=1.5)
    return PreparedImage(
        print_jpeg=_encode(image, PRINT_QUALITY),
        thumbnail_jpeg=_encode(thumb, 80),
        width=image.width,
        height=image.height,
    )
