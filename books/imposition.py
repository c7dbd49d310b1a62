"""Booklet imposition for duplex printing flipped on the short edge.

Each sheet holds four pages (two per side); stacking the printed sheets and
folding them in the middle yields the pages in reading order.
"""

from __future__ import annotations

Side = tuple[int, int]  # (left page, right page), 1-based
Sheet = tuple[Side, Side]  # (front, back)


def _slot_count(page_count: int) -> int:
    if page_count < 0:
        raise ValueError(f"page_count must be >= 0, got {page_count}")
    # A sheet carries four pages, so round up; extra slots print blank.
    return -(-page_count // 4) * 4


def booklet_sheets(page_count: int) -> list[Sheet]:
    """Return (front, back) page pairs for each sheet, outermost first.

    Slot numbers above ``page_count`` are returned as-is; the caller prints
    them as blank pages.
    """
    slots = _slot_count(page_count)
    return [
        ((slots - 2 * i, 2 * i + 1), (2 * i + 2, slots - 2 * i - 1))
        for i in range(slots // 4)
    ]


def booklet_sides(page_count: int) -> list[Side]:
    """Return the sides in print order: front, back, front, back..."""
    return [side for sheet in booklet_sheets(page_count) for side in sheet]
