"""Offline, deterministic picture-book illustrations drawn with Pillow.

This module has no Django dependencies: it turns a prompt into a calm,
watercolour-ish landscape (sky, sun/moon/stars, clouds, rolling hills, trees,
houses, flowers) with one friendly round character, and returns PNG bytes.
The same prompt always yields byte-identical output.
"""

from __future__ import annotations

import hashlib
import io
import math
import random

from PIL import Image, ImageChops, ImageDraw, ImageFilter

__all__ = ["draw_illustration"]

RGB = tuple[int, int, int]

# The scene is drawn at this fraction of the output size and then upscaled:
# four times fewer pixels to paint, and the smooth upscale softens every edge
# like wet paint.
_DRAW_SCALE = 0.5

# Sky palettes: (top, middle, bottom) colour ranges; each channel is jittered.
_SKIES: dict[str, tuple[RGB, RGB, RGB]] = {
    "day": ((118, 172, 222), (168, 208, 236), (226, 238, 240)),
    "morning": ((150, 178, 226), (226, 196, 222), (252, 222, 196)),
    "dusk": ((86, 84, 150), (214, 128, 150), (250, 196, 140)),
    "night": ((18, 26, 64), (38, 50, 100), (74, 84, 136)),
}

# Land palettes, back hill to front hill.
_LANDS: dict[str, tuple[RGB, RGB, RGB]] = {
    "meadow": ((172, 206, 158), (128, 184, 122), (96, 160, 96)),
    "teal": ((166, 204, 190), (112, 176, 156), (78, 146, 124)),
    "autumn": ((220, 196, 140), (206, 156, 96), (176, 120, 74)),
    "lavender": ((196, 184, 220), (160, 176, 130), (120, 156, 104)),
    "snow": ((226, 234, 246), (214, 226, 242), (198, 214, 234)),
    "sand": ((240, 216, 172), (226, 192, 142), (206, 166, 116)),
}

_CHARACTER_COLOURS: tuple[RGB, ...] = (
    (244, 164, 96),  # orange
    (250, 200, 170),  # peach
    (196, 170, 226),  # lilac
    (250, 218, 110),  # yellow
    (244, 170, 190),  # pink
    (140, 190, 232),  # sky blue
    (160, 214, 180),  # mint
    (176, 136, 104),  # brown
    (236, 236, 236),  # white
)

_FLOWER_COLOURS: tuple[RGB, ...] = (
    (250, 236, 120),
    (244, 150, 170),
    (255, 255, 255),
    (190, 160, 232),
    (250, 180, 110),
    (150, 196, 245),
)


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _jitter(rng: random.Random, c: RGB, amount: int = 14) -> RGB:
    return tuple(max(0, min(255, v + rng.randint(-amount, amount))) for v in c)  # type: ignore[return-value]


def _rgba(c: RGB, alpha: int) -> tuple[int, int, int, int]:
    return (c[0], c[1], c[2], alpha)


def _blob(
    rng: random.Random,
    cx: float,
    cy: float,
    rx: float,
    ry: float,
    wobble: float = 0.05,
    n: int = 28,
) -> list[tuple[float, float]]:
    """A hand-drawn-looking ellipse: a polygon with a gently wobbling radius."""
    p1, p2 = rng.uniform(0, math.tau), rng.uniform(0, math.tau)
    k = rng.choice((2, 3))
    pts = []
    for i in range(n):
        a = math.tau * i / n
        r = 1 + wobble * (math.sin(k * a + p1) * 0.6 + math.sin((k + 2) * a + p2) * 0.4)
        pts.append((cx + math.cos(a) * rx * r, cy + math.sin(a) * ry * r))
    return pts


class _Hill:
    """A rolling hill line y(x) made of a few summed sine waves."""

    def __init__(self, rng: random.Random, w: int, base: float, amp: float) -> None:
        self.base = base
        self.waves = [
            (
                amp * rng.uniform(0.5, 1.0),
                rng.uniform(0.6, 1.6) / w,
                rng.uniform(0, math.tau),
            ),
            (
                amp * rng.uniform(0.15, 0.4),
                rng.uniform(1.8, 3.5) / w,
                rng.uniform(0, math.tau),
            ),
        ]

    def y(self, x: float) -> float:
        return self.base + sum(
            a * math.sin(math.tau * f * x + p) for a, f, p in self.waves
        )

    def polygon(self, w: int, h: int, step: int = 6) -> list[tuple[float, float]]:
        pts = [(float(x), self.y(x)) for x in range(-step, w + 2 * step, step)]
        return [(-step, h + 2), *pts, (w + step, h + 2)]


def _sky(
    rng: random.Random, w: int, h: int, stops: tuple[RGB, RGB, RGB]
) -> Image.Image:
    top, mid, bottom = (_jitter(rng, c, 12) for c in stops)
    mid_at = rng.uniform(0.4, 0.6)
    n = 64
    column = Image.new("RGB", (1, n))
    for i in range(n):
        t = i / (n - 1)
        c = _mix(top, mid, t / mid_at) if t < mid_at else _mix(mid, bottom, (t - mid_at) / (1 - mid_at))
        column.putpixel((0, i), c)
    return column.resize((w, h), Image.Resampling.BILINEAR)


def _paper(rng: random.Random, w: int, h: int) -> Image.Image:
    """Soft mottled paper texture (values ~238-255) for a multiply blend."""
    nw, nh = max(2, w // 8), max(2, h // 8)
    noise = Image.frombytes("L", (nw, nh), rng.randbytes(nw * nh))
    noise = noise.filter(ImageFilter.BoxBlur(1)).point(
        lambda v: 232 + v * 23 // 180 if v < 180 else 255
    )
    return noise.resize((w, h), Image.Resampling.BICUBIC).convert("RGB")


def _draw_sun(
    d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, colour: RGB
) -> None:
    for i in range(6):
        rr = r * (2.3 - 0.22 * i)
        d.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=_rgba(colour, 22))
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_rgba(colour, 235))


def _draw_moon(
    d: ImageDraw.ImageDraw, rng: random.Random, cx: float, cy: float, r: float, sky: RGB
) -> None:
    glow = (250, 244, 210)
    for i, alpha in enumerate((18, 28)):
        rr = r * (2.0 - 0.4 * i)
        d.ellipse((cx - rr, cy - rr, cx + rr, cy + rr), fill=_rgba(glow, alpha))
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_rgba(glow, 245))
    if rng.random() < 0.6:  # crescent: cover part of the disc with sky colour
        off = r * rng.uniform(0.45, 0.7) * rng.choice((-1, 1))
        d.ellipse(
            (cx + off - r, cy - r * 1.05, cx + off + r, cy + r * 0.95),
            fill=_rgba(sky, 255),
        )


def _draw_cloud(
    d: ImageDraw.ImageDraw,
    rng: random.Random,
    cx: float,
    cy: float,
    size: float,
    colour: RGB,
    alpha: int,
) -> None:
    for _ in range(rng.randint(4, 6)):
        ox = rng.uniform(-1.1, 1.1) * size
        oy = rng.uniform(-0.35, 0.15) * size
        rr = size * rng.uniform(0.45, 0.75)
        d.polygon(
            _blob(rng, cx + ox, cy + oy, rr, rr * 0.8, 0.04, 20),
            fill=_rgba(colour, alpha),
        )


def _draw_tree(
    d: ImageDraw.ImageDraw,
    rng: random.Random,
    x: float,
    ground: float,
    size: float,
    leaf: RGB,
    trunk: RGB,
) -> None:
    tw = size * 0.16
    th = size * 0.9
    d.rectangle(
        (x - tw / 2, ground - th, x + tw / 2, ground + size * 0.1),
        fill=_rgba(trunk, 255),
    )
    if rng.random() < 0.35:  # pine
        for i in range(3):
            base = ground - th * 0.35 - i * size * 0.45
            half = size * (0.55 - i * 0.12)
            d.polygon(
                [(x - half, base), (x + half, base), (x, base - size * 0.75)],
                fill=_rgba(_mix(leaf, (0, 0, 0), 0.06 * i), 240),
            )
    else:  # round canopy, painted in two overlapping washes
        cy = ground - th - size * 0.35
        d.polygon(
            _blob(rng, x, cy, size * 0.55, size * 0.6, 0.08), fill=_rgba(leaf, 235)
        )
        hl = _mix(leaf, (255, 255, 220), 0.25)
        d.polygon(
            _blob(rng, x - size * 0.15, cy - size * 0.15, size * 0.3, size * 0.3, 0.1),
            fill=_rgba(hl, 110),
        )


def _draw_house(
    d: ImageDraw.ImageDraw,
    rng: random.Random,
    x: float,
    ground: float,
    size: float,
    night: bool,
) -> None:
    wall = _jitter(
        rng,
        rng.choice(
            ((246, 226, 196), (236, 206, 190), (214, 226, 236), (246, 240, 220))
        ),
        8,
    )
    roof = _jitter(
        rng,
        rng.choice(((200, 96, 88), (120, 120, 170), (176, 112, 80), (96, 150, 140))),
        10,
    )
    if night:
        wall = _mix(wall, (50, 60, 100), 0.45)
        roof = _mix(roof, (40, 46, 90), 0.45)
    hw = size * 0.5
    hh = size * 0.7
    d.rectangle(
        (x - hw, ground - hh, x + hw, ground + size * 0.08), fill=_rgba(wall, 255)
    )
    d.polygon(
        [
            (x - hw * 1.2, ground - hh),
            (x + hw * 1.2, ground - hh),
            (x, ground - hh - size * 0.55),
        ],
        fill=_rgba(roof, 255),
    )
    door = _mix(roof, (60, 40, 30), 0.3)
    d.rectangle(
        (x - size * 0.1, ground - size * 0.32, x + size * 0.1, ground + size * 0.04),
        fill=_rgba(door, 255),
    )
    window = (255, 226, 140) if night else (180, 214, 236)
    ws = size * 0.14
    for wx in (x - hw * 0.6, x + hw * 0.6):
        d.rectangle(
            (wx - ws / 2, ground - hh * 0.7, wx + ws / 2, ground - hh * 0.7 + ws),
            fill=_rgba(window, 255),
        )


def _draw_character(
    d: ImageDraw.ImageDraw,
    rng: random.Random,
    cx: float,
    ground: float,
    r: float,
    night: bool,
) -> None:
    body = rng.choice(_CHARACTER_COLOURS)
    body = _jitter(rng, body, 10)
    if night:
        body = _mix(body, (90, 100, 150), 0.25)
    dark = _mix(body, (40, 30, 40), 0.35)
    belly = _mix(body, (255, 250, 240), 0.55)
    kind = rng.choice(("bear", "cat", "bunny", "chick", "blob", "mouse"))
    ry = r * rng.uniform(0.88, 1.05)
    cy = ground - ry * 0.92

    # soft shadow
    d.ellipse(
        (cx - r * 0.95, ground - r * 0.12, cx + r * 0.95, ground + r * 0.16),
        fill=(40, 50, 40, 50),
    )

    # ears behind the body
    if kind in ("bear", "mouse"):
        er = r * (0.3 if kind == "bear" else 0.42)
        for s in (-1, 1):
            ex, ey = cx + s * r * 0.62, cy - ry * 0.72
            d.ellipse((ex - er, ey - er, ex + er, ey + er), fill=_rgba(body, 255))
            d.ellipse(
                (ex - er * 0.55, ey - er * 0.55, ex + er * 0.55, ey + er * 0.55),
                fill=_rgba(belly, 255),
            )
    elif kind == "cat":
        for s in (-1, 1):
            bx = cx + s * r * 0.55
            d.polygon(
                [
                    (bx - r * 0.3, cy - ry * 0.6),
                    (bx + r * 0.3, cy - ry * 0.6),
                    (bx + s * r * 0.12, cy - ry * 1.28),
                ],
                fill=_rgba(body, 255),
            )
    elif kind == "bunny":
        for s in (-1, 1):
            ex = cx + s * r * 0.35
            d.ellipse(
                (ex - r * 0.17, cy - ry * 1.75, ex + r * 0.17, cy - ry * 0.55),
                fill=_rgba(body, 255),
            )
            d.ellipse(
                (ex - r * 0.08, cy - ry * 1.6, ex + r * 0.08, cy - ry * 0.75),
                fill=_rgba(_mix(belly, (244, 170, 190), 0.5), 255),
            )

    # feet, body, belly
    for s in (-1, 1):
        fx = cx + s * r * 0.45
        d.ellipse(
            (fx - r * 0.26, ground - r * 0.2, fx + r * 0.26, ground + r * 0.08),
            fill=_rgba(dark, 255),
        )
    d.ellipse((cx - r, cy - ry, cx + r, cy + ry), fill=_rgba(body, 255))
    d.ellipse(
        (cx - r * 0.58, cy + ry * 0.05, cx + r * 0.58, cy + ry * 0.88),
        fill=_rgba(belly, 220),
    )
    # little arms
    for s in (-1, 1):
        ax = cx + s * r * 0.86
        d.ellipse(
            (ax - r * 0.16, cy + ry * 0.05, ax + r * 0.16, cy + ry * 0.45),
            fill=_rgba(dark, 230),
        )

    # face
    look = rng.uniform(-0.08, 0.08) * r
    eye_y = cy - ry * 0.22
    eye_dx = r * rng.uniform(0.3, 0.38)
    er = r * rng.uniform(0.13, 0.17)
    for s in (-1, 1):
        ex = cx + s * eye_dx
        d.ellipse(
            (ex - er, eye_y - er * 1.15, ex + er, eye_y + er * 1.15),
            fill=(255, 255, 255, 255),
        )
        pr = er * 0.62
        px = ex + look
        d.ellipse(
            (px - pr, eye_y - pr * 1.1, px + pr, eye_y + pr * 1.1),
            fill=(40, 34, 44, 255),
        )
        hr = pr * 0.38
        d.ellipse(
            (
                px - pr * 0.35 - hr,
                eye_y - pr * 0.45 - hr,
                px - pr * 0.35 + hr,
                eye_y - pr * 0.45 + hr,
            ),
            fill=(255, 255, 255, 255),
        )
        # rosy cheek
        chx, chy = cx + s * r * 0.55, cy + ry * 0.05
        d.ellipse(
            (chx - r * 0.14, chy - r * 0.08, chx + r * 0.14, chy + r * 0.08),
            fill=(240, 120, 130, 110),
        )

    mouth_y = cy + ry * 0.02
    if kind == "chick":
        d.polygon(
            [
                (cx - r * 0.12, mouth_y - r * 0.06),
                (cx + r * 0.12, mouth_y - r * 0.06),
                (cx, mouth_y + r * 0.12),
            ],
            fill=(240, 150, 60, 255),
        )
    else:
        if kind in ("bear", "mouse", "cat", "bunny"):
            nr = r * 0.07
            d.ellipse(
                (
                    cx - nr * 1.3,
                    mouth_y - r * 0.1 - nr,
                    cx + nr * 1.3,
                    mouth_y - r * 0.1 + nr,
                ),
                fill=(70, 50, 55, 255),
            )
        mw = r * 0.16
        d.arc(
            (cx - mw, mouth_y - mw * 0.9, cx + mw, mouth_y + mw * 0.7),
            20,
            160,
            fill=(70, 50, 55, 255),
            width=max(1, round(r * 0.045)),
        )

    # a little crown of leaves or tuft for some variety
    if kind == "blob" and rng.random() < 0.7:
        leaf = (120, 180, 100, 255)
        d.ellipse(
            (cx - r * 0.05, cy - ry * 1.28, cx + r * 0.25, cy - ry * 0.95), fill=leaf
        )
        d.line(
            (cx, cy - ry * 0.98, cx + r * 0.05, cy - ry * 1.18),
            fill=(90, 130, 70, 255),
            width=max(1, round(r * 0.04)),
        )


def _draw_hill(
    d: ImageDraw.ImageDraw, hill: _Hill, colour: RGB, w: int, h: int, u: int
) -> None:
    poly = hill.polygon(w, h)
    d.polygon(poly, fill=_rgba(colour, 255))
    # a lighter wash along the crest gives a painted, layered look
    crest = [(x, y + u * 0.012) for x, y in poly[1:-1]]
    lower = [(x, y + u * 0.06) for x, y in reversed(poly[1:-1])]
    d.polygon(crest + lower, fill=_rgba(_mix(colour, (255, 255, 240), 0.3), 60))


def draw_illustration(prompt: str, *, width: int = 768, height: int = 1024) -> bytes:
    """An offline picture-book illustration for a prompt, as PNG bytes. Deterministic per prompt."""
    if width <= 0 or height <= 0:
        raise ValueError("width and height must be positive")
    seed = int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest(), "big")
    rng = random.Random(seed)

    w = max(8, round(width * _DRAW_SCALE))
    h = max(8, round(height * _DRAW_SCALE))
    u = min(w, h)  # size unit

    time_of_day = rng.choices(
        ("day", "morning", "dusk", "night"), weights=(4, 2, 2, 2)
    )[0]
    night = time_of_day == "night"
    land_name = rng.choice(tuple(_LANDS))
    land = [_jitter(rng, c, 10) for c in _LANDS[land_name]]
    if night:
        land = [_mix(c, (34, 44, 88), 0.5) for c in land]
    elif time_of_day == "dusk":
        land = [_mix(c, (220, 130, 120), 0.15) for c in land]
    elif time_of_day == "morning":
        land = [_mix(c, (250, 220, 200), 0.1) for c in land]

    img = _sky(rng, w, h, _SKIES[time_of_day])
    d = ImageDraw.Draw(img, "RGBA")

    horizon = h * rng.uniform(0.42, 0.62)

    # Stars
    if night:
        for _ in range(rng.randint(30, 70)):
            sx, sy = rng.uniform(0, w), rng.uniform(0, horizon)
            sr = rng.uniform(0.5, 1.6) * u / 384
            d.ellipse(
                (sx - sr, sy - sr, sx + sr, sy + sr),
                fill=(255, 250, 220, rng.randint(150, 255)),
            )

    # Sun or moon
    cx = w * rng.uniform(0.15, 0.85)
    if night:
        cy = horizon * rng.uniform(0.15, 0.45)
        r = u * rng.uniform(0.06, 0.1)
        _draw_moon(d, rng, cx, cy, r, img.getpixel((int(cx), int(cy))))
    elif time_of_day == "dusk":
        _draw_sun(
            d,
            cx,
            horizon * rng.uniform(0.6, 0.85),
            u * rng.uniform(0.1, 0.15),
            (252, 170, 90),
        )
    elif time_of_day == "morning":
        _draw_sun(
            d,
            cx,
            horizon * rng.uniform(0.45, 0.75),
            u * rng.uniform(0.08, 0.12),
            (255, 214, 140),
        )
    else:
        _draw_sun(
            d,
            cx,
            horizon * rng.uniform(0.12, 0.4),
            u * rng.uniform(0.07, 0.11),
            (255, 232, 130),
        )

    # Rainbow, sometimes, on bright days
    if time_of_day == "day" and rng.random() < 0.25:
        rx = w * rng.uniform(0.2, 0.8)
        rr = u * rng.uniform(0.45, 0.7)
        band = rr * 0.05
        for i, c in enumerate(
            (
                (240, 120, 120),
                (250, 180, 110),
                (250, 230, 130),
                (140, 200, 140),
                (130, 170, 230),
                (180, 140, 220),
            )
        ):
            rad = rr - i * band
            d.arc(
                (rx - rad, horizon - rad, rx + rad, horizon + rad),
                180,
                360,
                fill=(*c, 90),
                width=max(1, round(band)),
            )

    # Clouds
    cloud = (255, 255, 255) if not night else (120, 130, 170)
    if time_of_day == "dusk":
        cloud = (252, 214, 214)
    for _ in range(rng.randint(1 if night else 2, 4)):
        _draw_cloud(
            d,
            rng,
            w * rng.uniform(-0.05, 1.05),
            horizon * rng.uniform(0.1, 0.7),
            u * rng.uniform(0.06, 0.11),
            cloud,
            150 if night else 200,
        )

    # Birds
    if not night and rng.random() < 0.5:
        bx, by = w * rng.uniform(0.2, 0.8), horizon * rng.uniform(0.2, 0.6)
        for _ in range(rng.randint(2, 4)):
            x, y = bx + rng.uniform(-0.12, 0.12) * w, by + rng.uniform(-0.05, 0.05) * h
            s = u * rng.uniform(0.015, 0.025)
            d.line(
                [(x - s, y - s * 0.5), (x, y), (x + s, y - s * 0.5)],
                fill=(80, 80, 100, 200),
                width=max(1, round(u / 250)),
            )

    # Hills, back to front
    n_layers = rng.choice((2, 3))
    bases = [horizon, horizon + (h - horizon) * 0.3, horizon + (h - horizon) * 0.58][
        :n_layers
    ]
    colours = [land[0], land[1], land[2]] if n_layers == 3 else [land[0], land[2]]
    hills = [_Hill(rng, w, b, (h - horizon) * rng.uniform(0.05, 0.13)) for b in bases]

    leaf_base = {
        "autumn": (214, 120, 70),
        "snow": (100, 150, 130),
        "sand": (130, 170, 100),
    }.get(land_name, (96, 160, 96))
    trunk = (128, 92, 70)
    if night:
        leaf_base = _mix(leaf_base, (34, 44, 88), 0.5)
        trunk = _mix(trunk, (34, 44, 88), 0.5)

    for li, (hill, colour) in enumerate(zip(hills, colours, strict=True)):
        _draw_hill(d, hill, colour, w, h, u)
        last = li == len(hills) - 1
        if last:
            break
        depth = (li + 1) / len(hills)  # nearer layers get bigger objects
        # Houses on a middle hill
        if li == len(hills) - 2 and rng.random() < 0.6:
            for _ in range(rng.randint(1, 2)):
                x = w * rng.uniform(0.08, 0.92)
                _draw_house(
                    d, rng, x, hill.y(x) + u * 0.01, u * (0.09 + 0.06 * depth), night
                )
        # Trees
        for _ in range(rng.randint(1, 4)):
            x = w * rng.uniform(0.02, 0.98)
            leaf = _jitter(rng, _mix(leaf_base, colour, 0.25 - 0.2 * depth), 12)
            _draw_tree(
                d,
                rng,
                x,
                hill.y(x) + u * 0.01,
                u * rng.uniform(0.06, 0.09) * (0.7 + depth),
                leaf,
                trunk,
            )

    front = hills[-1]
    # Flowers and grass tufts on the front hill
    flower_dim = 0.45 if night else 0.0
    for _ in range(rng.randint(10, 30)):
        x = rng.uniform(0, w)
        top = front.y(x)
        y = rng.uniform(top + u * 0.02, h)
        s = u * rng.uniform(0.008, 0.014) * (0.7 + (y - top) / max(1.0, h - top))
        c = _mix(rng.choice(_FLOWER_COLOURS), (34, 44, 88), flower_dim)
        d.line(
            [(x, y), (x, y + s * 2.2)],
            fill=_rgba(_mix(colours[-1], (0, 0, 0), 0.2), 220),
            width=max(1, round(s * 0.4)),
        )
        for k in range(5):
            a = math.tau * k / 5
            px, py = x + math.cos(a) * s, y + math.sin(a) * s
            d.ellipse(
                (px - s * 0.7, py - s * 0.7, px + s * 0.7, py + s * 0.7),
                fill=_rgba(c, 230),
            )
        d.ellipse(
            (x - s * 0.5, y - s * 0.5, x + s * 0.5, y + s * 0.5),
            fill=(250, 200, 80, 255),
        )

    # The friendly character
    r = u * rng.uniform(0.09, 0.19)
    cx = w * rng.uniform(0.22, 0.78)
    ground = min(h - r * 0.3, front.y(cx) + (h - front.y(cx)) * rng.uniform(0.25, 0.6))
    _draw_character(d, rng, cx, ground, r, night)

    # Soften, lay on paper, upscale.
    img = ImageChops.multiply(img, _paper(rng, w, h))
    img = img.filter(ImageFilter.GaussianBlur(0.9))
    if (w, h) != (width, height):
        img = img.resize((width, height), Image.Resampling.BICUBIC)

    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()
