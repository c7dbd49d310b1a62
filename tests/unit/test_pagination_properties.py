"""Property-based tests: any Unicode story keeps every character, in order, on non-empty pages."""

from hypothesis import given, settings
from hypothesis import strategies as st

from books.pagination import PAGE_CHARS, PaginationError, paginate, split_story, split_structured

sentence = st.text(min_size=1, max_size=150).map(str.strip).filter(bool)
story_text = st.lists(
    st.tuples(sentence, st.sampled_from([". ", "! ", "? ", "。", " ", "\n\n", "… "])), max_size=60
).map(lambda parts: "".join(s + end for s, end in parts))


def squash(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=300, deadline=None)
@given(story_text)
def test_no_text_lost_order_kept_no_page_empty(text):
    pages = split_story(text)
    assert squash("".join(pages)) == squash(text)  # nothing lost, nothing added, order kept
    assert all(page.strip() for page in pages)


@settings(max_examples=300, deadline=None)
@given(story_text)
def test_pages_are_whole_sentences_up_to_the_limit(text):
    for page in split_story(text):
        # A page over the limit holds one sentence that could not be cut.
        if len(page) > PAGE_CHARS:
            assert len(split_story(page)) == 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=300), max_size=60))
def test_structured_pages_round_trip(entries):
    pages = split_structured(entries)
    assert squash("".join(pages)) == squash("".join(entries))
    assert all(page.strip() for page in pages)


@settings(max_examples=200, deadline=None)
@given(title=st.text(max_size=250), text=st.text(max_size=3000))
def test_paginate_either_lays_out_an_even_book_or_names_the_field(title, text):
    try:
        pages = paginate(title=title, story=text)
    except PaginationError as error:
        assert error.field in {"title", "story", "language"}
        assert error.message
        return
    assert len(pages) % 2 == 0
    assert pages[0].kind == "cover" and pages[-1].kind == "end"
    assert [p.number for p in pages] == list(range(1, len(pages) + 1))
    assert all(p.text.strip() for p in pages if p.kind != "blank")
