"""Turn a story into the pages of a picture book.

Pure Python on purpose: the web form, the job worker and the tests all call
it, and none of them should need Django loaded to work out page breaks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_STORY_CHARS = 50_000
MAX_CONTENT_PAGES = 50
MAX_TITLE_CHARS = 200
PAGE_CHARS = 100

END_TEXTS = {
    "en": "The End",
    "es": "Fin",
    "fr": "Fin",
    "de": "Ende",
    "it": "Fine",
    "pt": "Fim",
    "ru": "Конец",
    "zh": "终",
    "ja": "おしまい",
    "ko": "끝",
}
LANGUAGES = tuple(END_TEXTS)  # supported language codes

DEFAULT_END_TEXT = "The End"

KIND_COVER = "cover"
KIND_CONTENT = "content"
KIND_BLANK = "blank"
KIND_END = "end"
KINDS = (KIND_COVER, KIND_CONTENT, KIND_BLANK, KIND_END)

# Western marks only end a sentence when whitespace follows, so "3.5" or
# "e.g.x" stay intact; closing quotes/brackets ride along with the sentence
# they close. CJK full-width marks end a sentence on their own because
# CJK text is written without spaces between sentences.
_SENTENCE_END = re.compile(
    r"""[.!?…]+["'”’»)\]]*(?=\s|$)"""
    r"""|[。！？]+[」』”’"'）)]*"""
)


class PaginationError(ValueError):
    """Input that cannot be made into a book; ``field`` names the bad input."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Page:
    """One printed page of the book."""

    number: int  # 1-based position in the book
    kind: str  # "cover" | "content" | "blank" | "end"
    text: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown page kind {self.kind!r}")

    @property
    def illustrated(self) -> bool:
        """Whether the page gets a picture (blank pages are padding only)."""
        return self.kind != KIND_BLANK


def _normalise_space(text: str) -> str:
    return " ".join(text.split())


def _drop_title_line(text: str, title: str) -> str:
    wanted = _normalise_space(title).casefold()
    if not wanted:
        return text
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        # Only the first non-empty line may be the title; a later line that
        # happens to match is story text.
        if _normalise_space(line).casefold() == wanted:
            del lines[index]
        break
    return "\n".join(lines)


def _sentences(text: str) -> list[str]:
    """Split normalised text into sentences, each keeping its trailing space.

    Keeping the original separator (a space, or nothing after a CJK mark)
    means concatenating pieces reproduces the text exactly, so no character
    can be lost and CJK pages gain no stray spaces.
    """
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if end < len(text) and text[end] == " ":
            end += 1
        if end > start:
            pieces.append(text[start:end])
        start = end
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _pack(text: str) -> list[str]:
    """Greedily pack whole sentences of ``text`` into pages of PAGE_CHARS."""
    text = _normalise_space(text)
    pages: list[str] = []
    current = ""
    for sentence in _sentences(text):
        candidate = current + sentence
        if not current or len(candidate.rstrip()) <= PAGE_CHARS:
            # An over-long sentence lands here on an empty page and stays
            # whole: truncating a child's story is worse than a full page.
            current = candidate
        else:
            pages.append(current.rstrip())
            current = sentence
    if current.strip():
        pages.append(current.rstrip())
    return pages


def split_story(text: str, *, title: str = "") -> list[str]:
    """Split a raw story into content page texts.

    A first line repeating the title is dropped, since the title is already
    on the cover.
    """
    return _pack(_drop_title_line(text, title))


def split_structured(pages: list[str]) -> list[str]:
    """Turn author-supplied pages into content page texts.

    Empty entries are skipped; entries longer than PAGE_CHARS are split by
    sentence like a raw story.
    """
    result: list[str] = []
    for entry in pages:
        result.extend(_pack(entry))
    return result


def layout_book(
    *, title: str, content: list[str], language: str = "en", end_text: str = ""
) -> list[Page]:
    """Arrange cover, content and end pages, padding to an even page count."""
    end = end_text.strip() or END_TEXTS.get(language, DEFAULT_END_TEXT)
    kinds_and_texts: list[tuple[str, str]] = [(KIND_COVER, title)]
    kinds_and_texts.extend((KIND_CONTENT, text) for text in content)
    # Printed sheets carry two pages each, so an odd count would leave the
    # end page without a partner; pad just before it so the story itself
    # is never interrupted.
    if (len(kinds_and_texts) + 1) % 2:
        kinds_and_texts.append((KIND_BLANK, ""))
    kinds_and_texts.append((KIND_END, end))
    return [
        Page(number=number, kind=kind, text=text)
        for number, (kind, text) in enumerate(kinds_and_texts, start=1)
    ]


def paginate(
    *,
    title: str,
    story: str = "",
    pages: list[str] | None = None,
    language: str = "en",
    end_text: str = "",
) -> list[Page]:
    """Validate the inputs and lay out the whole book.

    ``pages`` (structured input) takes precedence over ``story`` when given.
    Raises PaginationError naming the offending field.
    """
    title = _normalise_space(title or "")
    if not title:
        raise PaginationError("title", "Title is required.")
    if len(title) > MAX_TITLE_CHARS:
        raise PaginationError(
            "title",
            f"Title is {len(title):,} characters long; "
            f"the limit is {MAX_TITLE_CHARS:,} characters.",
        )
    if language not in LANGUAGES:
        raise PaginationError(
            "language",
            f"Unsupported language {language!r}; "
            f"choose one of: {', '.join(LANGUAGES)}.",
        )

    if pages is not None:
        field = "pages"
        total = sum(len(entry) for entry in pages)
        # Same budget as a raw story so structured input cannot be used to
        # push an unbounded amount of text through the splitter.
        if total > MAX_STORY_CHARS:
            raise PaginationError(
                field,
                f"The pages hold {total:,} characters in total; "
                f"the limit is {MAX_STORY_CHARS:,} characters.",
            )
        content = split_structured(pages)
    else:
        field = "story"
        story = story or ""
        if not story.strip():
            raise PaginationError(
                field,
                f"Write a story (up to {MAX_STORY_CHARS:,} characters) "
                "or give a list of pages.",
            )
        if len(story) > MAX_STORY_CHARS:
            raise PaginationError(
                field,
                f"The story is {len(story):,} characters long; "
                f"the limit is {MAX_STORY_CHARS:,} characters.",
            )
        content = split_story(story, title=title)

    if not content:
        raise PaginationError(field, "The story has no text to put on a page.")
    if len(content) > MAX_CONTENT_PAGES:
        raise PaginationError(
            field,
            f"The story needs {len(content)} pages; "
            f"a book can have at most {MAX_CONTENT_PAGES} pages of story.",
        )
    return layout_book(
        title=title, content=content, language=language, end_text=end_text
    )
