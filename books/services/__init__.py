"""Writes for books: create a book, draw its pages, render and swap its PDFs, regenerate, recover.

A book's life: create_book stores the job and its image rows and enqueues draw_pages jobs; each
draw_pages job claims pages one by one (several threads per worker, several workers per book);
whichever page finishes last enqueues render_book, which writes both PDFs under new names and
switches the book to them in one transaction.
"""

from books.services.creation import InvalidBook, create_book
from books.services.drawing import draw_pages, finish_round_if_done
from books.services.recovery import recover_orphaned_book, recover_orphaned_books
from books.services.regeneration import Regeneration, RegenerationOutcome, start_regeneration
from books.services.rendering import render_book, render_pdfs

__all__ = [
    "InvalidBook",
    "Regeneration",
    "RegenerationOutcome",
    "create_book",
    "draw_pages",
    "finish_round_if_done",
    "recover_orphaned_book",
    "recover_orphaned_books",
    "render_book",
    "render_pdfs",
    "start_regeneration",
]
