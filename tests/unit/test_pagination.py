import pytest
from hypothesis import given
from hypothesis import strategies as st

from books.pagination import (
    END_TEXTS,
    LANGUAGES,
    MAX_CONTENT_PAGES,
    MAX_STORY_CHARS,
    MAX_TITLE_CHARS,
    PAGE_CHARS,
    Page,
    PaginationError,
    layout_book,
    paginate,
    split_story,
    split_structured,
)


def squash(text: str) -> str:
    return "".join(text.split())


def sentence(i: int) -> str:
    # ~60 chars: two never fit on one page, so each sentence is one page.
    return f"Sentence number {i:03d} is long enough to fill most of a page."


def story_of(n: int) -> str:
    return " ".join(sentence(i) for i in range(n))


# --- split_story -----------------------------------------------------------


def test_one_word():
    assert split_story("Hello") == ["Hello"]


def test_empty_and_whitespace_story_give_no_pages():
    assert split_story("") == []
    assert split_story(" \n\t \n") == []


def test_whitespace_normalised():
    assert split_story("  The  cat\n\nsat\ton the   mat.  ") == [
        "The cat sat on the mat."
    ]


def test_short_sentences_packed_greedily():
    text = "The cat sat. The dog ran! Did the bird fly? Yes."
    assert split_story(text) == [text]


def test_packing_respects_page_chars():
    pages = split_story(story_of(5))
    assert pages == [sentence(i) for i in range(5)]
    assert all(len(p) <= PAGE_CHARS for p in pages)


def test_greedy_fills_up_to_exactly_page_chars():
    a = "A" * 49 + "."
    b = "B" * 48 + "."  # a + " " + b == 100 chars
    c = "C."
    pages = split_story(f"{a} {b} {c}")
    assert pages == [f"{a} {b}", c]
    assert len(pages[0]) == PAGE_CHARS


def test_long_sentence_kept_whole_on_own_page():
    long_sentence = (
        "Once upon a time there was a very small dragon who lived under "
        "an old wooden bridge and dreamed every night of flying to the moon."
    )
    assert len(long_sentence) > PAGE_CHARS
    pages = split_story(f"Hi. {long_sentence} Bye.")
    assert pages == ["Hi.", long_sentence, "Bye."]


def test_long_text_without_punctuation_not_truncated():
    text = " ".join(["word"] * 100)
    assert split_story(text) == [text]


def test_decimal_point_is_not_a_sentence_end():
    text = "It cost 3.5 coins" + " and more" * 12 + "."
    assert split_story(text) == [text]


def test_ellipsis_ends_sentence():
    a = "x" * 60 + "…"
    b = "y" * 60 + "."
    assert split_story(f"{a} {b}") == [a, b]


def test_closing_quote_stays_with_sentence():
    a = '"' + "x" * 60 + '!"'
    b = "y" * 60 + "."
    assert split_story(f"{a} {b}") == [a, b]


def test_title_line_dropped():
    story = "\n  The Brave Mouse  \nThe mouse was brave."
    assert split_story(story, title="the brave mouse") == ["The mouse was brave."]


def test_title_only_dropped_when_first_nonempty_line():
    story = "A mouse lived here.\nThe Brave Mouse\nThe end came."
    pages = split_story(story, title="The Brave Mouse")
    assert squash("".join(pages)) == squash(story)


def test_title_not_dropped_without_title():
    assert split_story("The Brave Mouse\nHi.") == ["The Brave Mouse Hi."]


def test_unicode_cyrillic_and_accents():
    text = "Жила-была мышка. Она любила сыр! Café, naïve, señor, Straße."
    pages = split_story(text)
    assert pages == [text]
    assert squash("".join(pages)) == squash(text)


def test_cjk_splits_on_fullwidth_marks_without_spaces():
    s1 = "从前有一只小猫" * 8 + "。"  # 57 chars
    s2 = "它很喜欢吃鱼" * 9 + "！"  # 55 chars
    s3 = "你好吗？"
    pages = split_story(s1 + s2 + s3)
    assert pages == [s1, s2 + s3]
    # No separator was in the source, so none is added between CJK sentences.
    assert " " not in "".join(pages)


def test_japanese_short_sentences_packed():
    text = "むかしむかし。おじいさんがいました。"
    assert split_story(text) == [text]


def test_html_kept_verbatim_as_text():
    text = 'Look <img src="file:///etc/passwd"> here. <script>alert(1)</script>'
    assert split_story(text) == [text]


@pytest.mark.parametrize(
    "text",
    [
        story_of(30),
        "Один. Два! Три? " * 40,
        "一。二！三？" * 50 + "終わり",
        "Mixed 中文。English text here... And more!!! ok?\n\n\tNew para.",
        "word " * 500,
    ],
)
def test_every_character_preserved(text):
    pages = split_story(text)
    assert squash("".join(pages)) == squash(text)
    assert all(p == p.strip() and p for p in pages)


@given(st.text(max_size=2000))
def test_every_character_preserved_property(text):
    pages = split_story(text)
    assert squash("".join(pages)) == squash(text)
    for page in pages:
        assert page and page == page.strip()
        assert "  " not in page


# --- split_structured --------------------------------------------------------


def test_structured_one_page_per_entry_skipping_empty():
    assert split_structured(["One.", "", "   ", "\n", "Two three."]) == [
        "One.",
        "Two three.",
    ]


def test_structured_long_entry_split_by_sentence():
    long_entry = story_of(3)
    assert split_structured(["Start.", long_entry, "End."]) == [
        "Start.",
        sentence(0),
        sentence(1),
        sentence(2),
        "End.",
    ]


def test_structured_short_entries_not_merged():
    assert split_structured(["A.", "B."]) == ["A.", "B."]


# --- layout_book -------------------------------------------------------------


def kinds(pages: list[Page]) -> list[str]:
    return [p.kind for p in pages]


def test_layout_even_count_no_blank():
    pages = layout_book(title="T", content=["a", "b"])
    assert kinds(pages) == ["cover", "content", "content", "end"]
    assert [p.number for p in pages] == [1, 2, 3, 4]
    assert pages[0].text == "T"
    assert pages[-1].text == "The End"


def test_layout_odd_count_blank_before_end():
    pages = layout_book(title="T", content=["a"])
    assert kinds(pages) == ["cover", "content", "blank", "end"]
    assert [p.number for p in pages] == [1, 2, 3, 4]
    assert pages[2].text == ""
    assert [p.illustrated for p in pages] == [True, True, False, True]


@pytest.mark.parametrize("n", range(8))
def test_layout_always_even(n):
    pages = layout_book(title="T", content=[f"p{i}" for i in range(n)])
    assert len(pages) % 2 == 0
    assert kinds(pages).count("blank") == (1 if n % 2 else 0)
    assert [p.text for p in pages if p.kind == "content"] == [f"p{i}" for i in range(n)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_end_text_per_language(language):
    pages = layout_book(title="T", content=["a"], language=language)
    assert pages[-1].text == END_TEXTS[language]


def test_end_text_examples():
    assert layout_book(title="T", content=[], language="es")[-1].text == "Fin"
    assert layout_book(title="T", content=[], language="ru")[-1].text == "Конец"
    assert layout_book(title="T", content=[], language="ja")[-1].text == "おしまい"


def test_explicit_end_text_wins():
    pages = layout_book(title="T", content=["a"], language="de", end_text="Tschüss!")
    assert pages[-1].text == "Tschüss!"


def test_unknown_language_falls_back_to_english():
    assert layout_book(title="T", content=["a"], language="xx")[-1].text == "The End"


def test_page_is_frozen():
    page = Page(number=1, kind="cover", text="T")
    with pytest.raises(AttributeError):
        page.text = "other"  # type: ignore[misc]


# --- paginate ------------------------------------------------------------------


def error_of(**kwargs) -> PaginationError:
    with pytest.raises(PaginationError) as info:
        paginate(**kwargs)
    assert isinstance(info.value, ValueError)
    return info.value


def test_paginate_one_word():
    pages = paginate(title="Hi", story="Hello")
    assert kinds(pages) == ["cover", "content", "blank", "end"]
    assert pages[1].text == "Hello"


def test_empty_story_rejected():
    err = error_of(title="T", story="")
    assert err.field == "story"
    assert "50,000" in err.message


def test_whitespace_story_rejected():
    assert error_of(title="T", story="  \n ").field == "story"


def test_story_that_is_only_the_title_has_no_text():
    err = error_of(title="My Book", story="My Book\n\n")
    assert err.field == "story"
    assert err.message == "The story has no text to put on a page."


def test_empty_title_rejected():
    err = error_of(title="   ", story="Hello.")
    assert (err.field, err.message) == ("title", "Title is required.")


def test_long_title_rejected():
    assert paginate(title="x" * MAX_TITLE_CHARS, story="Hi.")[0].text == (
        "x" * MAX_TITLE_CHARS
    )
    err = error_of(title="x" * (MAX_TITLE_CHARS + 1), story="Hi.")
    assert err.field == "title"


def test_bad_language_rejected():
    assert error_of(title="T", story="Hi.", language="xx").field == "language"


def test_story_over_limit_rejected():
    story = "a" * (MAX_STORY_CHARS + 1)
    err = error_of(title="T", story=story)
    assert err.field == "story"
    assert "50,000" in err.message


def test_story_at_limit_not_rejected_for_length():
    # One giant "sentence" is a single page, so only the length rule applies.
    pages = paginate(title="T", story="a" * MAX_STORY_CHARS)
    assert pages[1].text == "a" * MAX_STORY_CHARS


def test_exactly_max_content_pages_ok():
    pages = paginate(title="T", story=story_of(MAX_CONTENT_PAGES))
    assert kinds(pages).count("content") == MAX_CONTENT_PAGES
    assert len(pages) == MAX_CONTENT_PAGES + 2


def test_too_many_content_pages_rejected():
    err = error_of(title="T", story=story_of(MAX_CONTENT_PAGES + 1))
    assert err.field == "story"
    assert "51" in err.message and "50" in err.message


def test_structured_too_many_pages_rejected_on_pages_field():
    err = error_of(title="T", pages=[f"p{i}" for i in range(MAX_CONTENT_PAGES + 1)])
    assert err.field == "pages"
    assert "51" in err.message


def test_structured_empty_pages_rejected_on_pages_field():
    err = error_of(title="T", pages=["", "  "])
    assert err.field == "pages"
    assert err.message == "The story has no text to put on a page."
    assert error_of(title="T", pages=[]).field == "pages"


def test_structured_over_char_limit_rejected():
    err = error_of(title="T", pages=["a" * MAX_STORY_CHARS, "b"])
    assert err.field == "pages"


def test_structured_input_layout():
    pages = paginate(title="T", pages=["One.", "", "Two."], language="fr")
    assert [(p.kind, p.text) for p in pages] == [
        ("cover", "T"),
        ("content", "One."),
        ("content", "Two."),
        ("end", "Fin"),
    ]


def test_structured_first_page_equal_to_title_kept():
    # Title dropping is for pasted raw stories only.
    pages = paginate(title="T", pages=["T", "Body."])
    assert [p.text for p in pages if p.kind == "content"] == ["T", "Body."]


def test_paginate_drops_title_line():
    pages = paginate(title="The Brave Mouse", story="THE BRAVE MOUSE\nHe was brave.")
    assert [p.text for p in pages] == [
        "The Brave Mouse",
        "He was brave.",
        "",
        "The End",
    ]


def test_paginate_explicit_end_text():
    pages = paginate(title="T", story="Hi.", language="it", end_text="Ciao")
    assert pages[-1].text == "Ciao"
    assert paginate(title="T", story="Hi.", language="it")[-1].text == "Fine"


def test_paginate_html_verbatim():
    story = '<img src="file:///etc/passwd">'
    pages = paginate(title="<b>T</b>", story=story)
    assert pages[0].text == "<b>T</b>"
    assert pages[1].text == story


def test_paginate_unicode_story_preserved():
    story = "Жили-были дед да баба. Él comió una manzana. 小猫很可爱。它睡觉了。"
    pages = paginate(title="Сказка", story=story, language="ru")
    content = "".join(p.text for p in pages if p.kind == "content")
    assert squash(content) == squash(story)
    assert pages[-1].text == "Конец"


def test_error_str_is_message():
    err = PaginationError("story", "Nope.")
    assert str(err) == "Nope."
    assert err.field == "story"
