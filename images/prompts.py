"""Page -> prompt. The page text goes in verbatim; the style keeps pictures safe for young children."""

import hashlib

DEFAULT_STYLE = "soft watercolor, gentle colors, friendly and safe for young children"
NO_TEXT = "The image must contain no text, letters, words or numbers."


def page_prompt(*, kind: str, text: str, title: str, style: str = "") -> str:
    style = style.strip() or DEFAULT_STYLE
    if kind == "cover":
        scene = f'The cover illustration of the picture book "{title}": a warm scene that introduces the story.'
    elif kind == "end":
        scene = f'The closing illustration of the picture book "{title}": a calm, happy ending. The page says: "{text}"'
    else:
        scene = f'An illustration for a page of the picture book "{title}". The page says: "{text}"'
    return f"{scene}\nStyle: {style}. Portrait 3:4 picture-book illustration.\n{NO_TEXT}"


def prompt_hash(prompt: str, model: str) -> str:
    return hashlib.sha256(f"{model}\n{prompt}".encode()).hexdigest()
