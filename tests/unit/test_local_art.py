import io
import itertools

import pytest
from PIL import Image, ImageChops, ImageStat

from images.providers.local_art import draw_illustration

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Mean absolute per-channel difference (0-255) between two 64x85 RGB thumbnails.
# Across 3,160 pairs of different prompts the smallest value measured was ~16
# (median ~50); the same prompt gives exactly 0. Thresholds sit well inside that gap.
DIFFERENT_PAGES_MIN = 12.0


def _decode(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def _thumb(data: bytes) -> Image.Image:
    return _decode(data).convert("RGB").resize((64, 85), Image.Resampling.BOX)


def _mean_abs_diff(a: Image.Image, b: Image.Image) -> float:
    stat = ImageStat.Stat(ImageChops.difference(a, b))
    return sum(stat.mean) / len(stat.mean)


def test_same_prompt_gives_identical_bytes():
    prompt = "A little fox looks for the moon over the hills."
    assert draw_illustration(prompt) == draw_illustration(prompt)


def test_default_is_portrait_png_768x1024():
    data = draw_illustration("A bear cub finds a red balloon.")
    assert data.startswith(PNG_MAGIC)
    img = _decode(data)
    assert img.format == "PNG"
    assert img.size == (768, 1024)
    assert img.height > img.width
    assert img.width * 4 == img.height * 3


def test_custom_size_is_respected():
    img = _decode(draw_illustration("tiny", width=300, height=400))
    assert img.size == (300, 400)


@pytest.mark.parametrize("size", [(0, 100), (100, 0), (-1, 10)])
def test_non_positive_size_rejected(size):
    with pytest.raises(ValueError):
        draw_illustration("x", width=size[0], height=size[1])


def test_image_is_not_blank():
    img = _decode(draw_illustration("A quiet morning in the meadow.")).convert("L")
    lo, hi = img.getextrema()
    assert hi - lo > 60


def test_two_prompts_differ_substantially():
    a = _thumb(draw_illustration("Page 1: Mia wakes up and looks out of the window."))
    b = _thumb(draw_illustration("Page 2: Mia and her cat walk down to the river."))
    assert _mean_abs_diff(a, b) > DIFFERENT_PAGES_MIN


def test_ten_prompts_give_ten_distinct_images():
    prompts = [f"Page {i}: the little owl learns to fly." for i in range(1, 11)]
    outputs = [draw_illustration(p) for p in prompts]
    assert len(set(outputs)) == 10
    thumbs = [_thumb(o) for o in outputs]
    for (i, a), (j, b) in itertools.combinations(enumerate(thumbs), 2):
        diff = _mean_abs_diff(a, b)
        assert diff > DIFFERENT_PAGES_MIN, (
            f"pages {i + 1} and {j + 1} look alike ({diff:.1f})"
        )
