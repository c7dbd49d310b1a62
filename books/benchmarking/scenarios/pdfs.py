"""Scenario 3: the PDFs of an N-page book from our print JPEGs, against the provider's PNGs as they came.

Same book, same templates, same renderer; the PNG run hands WeasyPrint the provider's bytes through
the image mapping, as the pipeline would without images/imaging.py.
"""

import io
from collections.abc import Callable

from PIL import Image

from books.benchmarking.bookmaking import make_book, new_story, wait_for
from books.benchmarking.context import best_time
from books.benchmarking.dpi import image_dpis
from books.benchmarking.report import Row
from books.models import BookJob, PdfKind
from books.pdf import image_url
from books.services import render_pdfs
from books.services.rendering import completed_images, render_with_images
from images.models import GeneratedImage

SPEEDUP_TARGET = 10
SIZE_TARGET_MB = 15
DPI_TARGET = 150
MB = 1024 * 1024


def _render_with(book: BookJob, picture_for: Callable[[GeneratedImage], bytes]) -> int:
    """Both PDFs of the book with each page's picture from ``picture_for``; their total size in bytes."""
    done = completed_images(book)
    rendered = render_with_images(book, done, {image_url(image.pk): picture_for(image) for image in done.values()})
    return sum(len(pdf.data) for pdf in rendered.values())


def _placeholder_jpeg() -> bytes:
    """A 3x4-pixel picture: same layout, next to no image work, so what is left is the layout's cost."""
    out = io.BytesIO()
    Image.new("RGB", (3, 4), "white").save(out, "JPEG")
    return out.getvalue()


def _reference_book(ctx) -> BookJob:
    if ctx.reference_book is None:  # scenario 1 did not run: make one at zero latency
        pool = ctx.use_workers(ctx.config.overhead_workers)
        ctx.settle()
        ctx.provider.reset()
        story = new_story(illustrated=ctx.config.pages, label="pdfs")
        (ctx.reference_book,) = wait_for(
            [make_book(owner=ctx.user, story=story)], timeout=ctx.config.book_timeout, pool=pool
        )
    return ctx.reference_book


def run(ctx) -> list[Row]:
    book = _reference_book(ctx)
    pages = len(book.pages)
    jpeg_seconds = ctx.pdf_seconds(book)
    rendered = render_pdfs(book)
    size = sum(len(pdf.data) for pdf in rendered.values())
    pool = ctx.provider.pool
    png_size = _render_with(book, lambda image: pool.png_for(image.prompt))
    png_seconds = best_time(lambda: _render_with(book, lambda image: pool.png_for(image.prompt)), runs=3)
    placeholder = _placeholder_jpeg()
    layout_seconds = best_time(lambda: _render_with(book, lambda image: placeholder), runs=3)
    speedup = png_seconds / jpeg_seconds
    # What the pictures themselves cost on top of the layout, which both runs share.
    jpeg_pictures, png_pictures = max(jpeg_seconds - layout_seconds, 0.0), png_seconds - layout_seconds
    dpis = image_dpis(rendered[PdfKind.REVIEW].data)
    rows = [
        Row(
            scenario=3,
            name=f"both PDFs of a {pages}-page book (render_pdfs, print JPEGs)",
            value=jpeg_seconds,
            unit="s",
            reference=png_seconds,
            ratio=speedup,
            target=f">= {SPEEDUP_TARGET}x faster than PNGs",
            ok=speedup >= SPEEDUP_TARGET,
            note=(
                f"reference: the provider's PNGs fed to WeasyPrint as they came ({png_size / MB:.1f} MB of PDFs); "
                f"best of 3 each. Both share {layout_seconds:.2f} s of page layout (measured with 3x4-pixel "
                f"pictures); on top of it the pictures cost {jpeg_pictures:.2f} s as print JPEGs and "
                f"{png_pictures:.2f} s as PNGs"
            ),
            details={
                "jpeg_s": jpeg_seconds,
                "png_s": png_seconds,
                "layout_s": layout_seconds,
                "png_bytes": png_size,
            },
        ),
        Row(
            scenario=3,
            name=f"size of both PDFs of a {pages}-page book",
            value=size / MB,
            unit="MB",
            target=f"< {SIZE_TARGET_MB} MB",
            ok=size / MB < SIZE_TARGET_MB,
            details={kind: len(pdf.data) for kind, pdf in rendered.items()},
        ),
    ]
    if dpis:
        rows.append(
            Row(
                scenario=3,
                name="effective resolution of the pictures on A5 (lowest)",
                value=min(dpis),
                unit="dpi",
                target=f">= {DPI_TARGET} dpi",
                ok=min(dpis) >= DPI_TARGET,
                note="image pixel width / printed width in inches, read from the review PDF",
                details={"min": min(dpis), "max": max(dpis), "images": len(dpis)},
            )
        )
    else:
        ctx.notes.append("Effective DPI not measured: install pypdf (requirements-dev.txt).")
    return rows
