import math

import pytest

from books.imposition import booklet_sheets, booklet_sides


def test_eight_pages_exact():
    assert booklet_sheets(8) == [((8, 1), (2, 7)), ((6, 3), (4, 5))]
    assert booklet_sides(8) == [(8, 1), (2, 7), (6, 3), (4, 5)]


def test_zero_pages():
    assert booklet_sheets(0) == []
    assert booklet_sides(0) == []


def test_negative_rejected():
    with pytest.raises(ValueError):
        booklet_sheets(-1)


def test_one_page():
    assert booklet_sheets(1) == [((4, 1), (2, 3))]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 8, 12, 13, 52])
def test_slot_properties(n):
    slots = 4 * math.ceil(n / 4)
    sheets = booklet_sheets(n)
    sides = booklet_sides(n)
    assert len(sheets) == slots // 4
    assert sides == [side for sheet in sheets for side in sheet]
    numbers = [page for side in sides for page in side]
    # Every slot 1..S appears exactly once across all sides.
    assert sorted(numbers) == list(range(1, slots + 1))
    # Facing pages of a folded booklet always sum to S + 1.
    assert all(left + right == slots + 1 for left, right in sides)


def test_five_pages_padded_to_eight():
    assert booklet_sheets(5) == booklet_sheets(8)


def test_twelve_pages():
    assert booklet_sides(12) == [(12, 1), (2, 11), (10, 3), (4, 9), (8, 5), (6, 7)]
