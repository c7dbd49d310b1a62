"""The studio's pages. Thin doors: every rule lives in books.services and books.selectors."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from books.forms import BookForm
from books.models import BookJob, BookStatus, PdfKind
from books.ratelimit import RateLimited
from books.selectors import book_for_user, book_status, books_for_user
from books.services import InvalidBook, RegenerationOutcome, create_book, recover_orphaned_book, start_regeneration


def _own_book(request: HttpRequest, book_id: str) -> BookJob:
    book = book_for_user(request.user, book_id)
    if book is None:
        raise Http404("Book not found")
    # A book whose worker died would otherwise show "in progress" for ever; this is a no-op
    # unless its lease lapsed with none of its jobs still queued.
    if book.in_progress and recover_orphaned_book(book):
        book.refresh_from_db()
    return book


@login_required
@require_GET
def book_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(books_for_user(request.user), settings.BOOKS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "books/list.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def book_new(request: HttpRequest) -> HttpResponse:
    form = BookForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            book = create_book(owner=request.user, **form.book_arguments())
        except InvalidBook as error:
            form.add_service_errors(error)
        except RateLimited as error:
            form.add_error(None, error.message)
            return render(request, "books/new.html", {"form": form}, status=429)
        else:
            messages.success(request, "Your book is on its way. Its pages appear below as they are drawn.")
            return redirect("books:detail", book_id=book.pk)
    return render(request, "books/new.html", {"form": form})


def _page_cards(status: dict) -> list[dict]:
    """The status document's pages, with the timestamps the template formats as dates."""
    cards = []
    for page in status["pages"]:
        image = page["image"]
        if image is not None:
            image = {**image, "retried_at": parse_datetime(image["retried_at"]) if image["retried_at"] else None}
        cards.append({**page, "image": image})
    return cards


@login_required
@require_GET
def book_detail(request: HttpRequest, book_id: str) -> HttpResponse:
    book = _own_book(request, book_id)
    status = book_status(book)
    # Review copy first: it is the one to read on screen; the booklet is for the printer.
    pdfs = [
        {"kind": kind, "label": PdfKind(kind).label, **status["pdfs"][kind]}
        for kind in (PdfKind.REVIEW, PdfKind.BOOKLET)
        if kind in status["pdfs"]
    ]
    context = {
        "book": book,
        "status": status,
        "pages": _page_cards(status),
        "pdfs": pdfs,
        "percent": round(100 * status["images_done"] / status["images_total"]) if status["images_total"] else 0,
        # A failed book with every page drawn failed while rendering; retrying renders it again.
        "can_retry": not book.in_progress and (status["failed_image_count"] > 0 or book.status == BookStatus.FAILED),
    }
    return render(request, "books/detail.html", context)


@login_required
@require_GET
@never_cache
def book_status_json(request: HttpRequest, book_id: str) -> JsonResponse:
    return JsonResponse(book_status(_own_book(request, book_id)))


@login_required
@require_POST
def book_regenerate(request: HttpRequest, book_id: str) -> HttpResponse:
    try:
        result = start_regeneration(book_id=book_id, user=request.user)
    except RateLimited as error:  # raised only after the book was found to be the user's
        messages.error(request, error.message)
        return redirect("books:detail", book_id=book_id)
    if result.outcome is RegenerationOutcome.NOT_FOUND:
        raise Http404(result.message)
    level = messages.SUCCESS if result.outcome is RegenerationOutcome.STARTED else messages.WARNING
    messages.add_message(request, level, result.message)
    return redirect("books:detail", book_id=result.book.pk)
