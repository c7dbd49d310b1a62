"""The JSON API, v1: thin doors over books.services and books.selectors.

Plain Django views. A client authenticates with ``Authorization: Bearer <token>`` (see books.auth)
or, from the browser, with its session; only the session path needs CSRF protection, because a
browser attaches the session cookie to forged requests by itself but never a bearer token.
"""

import functools
import json
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import RequestDataTooBig
from django.core.paginator import InvalidPage, Paginator
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from books.auth import bearer_token, request_user
from books.models import BookStatus
from books.ratelimit import RateLimited
from books.selectors import book_for_user, book_status, books_for_user
from books.services import InvalidBook, RegenerationOutcome, create_book, start_regeneration

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
TEXT_FIELDS = ("title", "story", "author", "language", "end_text", "style")
KNOWN_FIELDS = (*TEXT_FIELDS, "pages")


def error(message: str, http_status: int, /, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=http_status)


def rate_limited(exc: RateLimited) -> JsonResponse:
    response = error(exc.message, 429, retry_after=exc.retry_after)
    response["Retry-After"] = str(exc.retry_after)
    return response


def invalid(fields: dict[str, str], message: str = "Invalid input") -> JsonResponse:
    return error(message, 400, fields=fields)


class _CsrfCheck(CsrfViewMiddleware):
    """Django's own CSRF check, answering with the reason instead of the HTML failure page."""

    def _reject(self, request, reason):
        return reason


def _csrf_failure(request: HttpRequest) -> str | None:
    check = _CsrfCheck(lambda _request: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


ApiView = Callable[..., JsonResponse]


def api_view(*methods: str) -> Callable[[ApiView], ApiView]:
    """Method check (405), authentication (401) and, for session logins only, CSRF (403).

    The wrapped view gets the authenticated user as its second argument.
    """

    def decorate(view: ApiView) -> ApiView:
        @csrf_exempt  # the check runs below, and only when the session is what authenticates
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> JsonResponse:
            if request.method not in methods:
                response = error(f"Method {request.method} not allowed", 405)
                response["Allow"] = ", ".join(methods)
                return response
            user = request_user(request)
            if not user.is_authenticated:
                response = error("Authentication required", 401)
                response["WWW-Authenticate"] = 'Bearer realm="api"'
                return response
            if bearer_token(request) is None and request.method not in SAFE_METHODS:
                reason = _csrf_failure(request)
                if reason:
                    return error(f"CSRF check failed: {reason}", 403)
            return view(request, user, *args, **kwargs)

        return wrapper

    return decorate


# ---------------------------------------------------------------- reading the request


def _json_object(request: HttpRequest) -> dict | JsonResponse:
    """The request body as a JSON object, or the 400/413 response saying why it is not one."""
    if request.content_type != "application/json":
        sent = request.content_type or "no content type"
        return invalid(
            {"content_type": f"Send the book as JSON (Content-Type: application/json), not {sent}."},
            "Unsupported content type",
        )
    try:
        raw = request.body
    except RequestDataTooBig:
        return error(
            "Request body too large",
            413,
            fields={"body": f"Keep the request under {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes."},
        )
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # ValueError covers bad JSON and bad UTF-8
        return invalid({"body": f"Not valid JSON: {exc}"[:300]}, "Malformed JSON")
    if not isinstance(data, dict):
        return invalid({"body": f"Send a JSON object, not a JSON {type(data).__name__}."})
    return data


def _page_texts(value: object) -> list[str] | str:
    """Structured pages as a list of texts, or a message saying what is wrong with them."""
    if not isinstance(value, list):
        return "Must be a list of strings or of objects with a text string."
    texts = []
    for index, item in enumerate(value, start=1):
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            texts.append(item["text"])
        elif isinstance(item, str):
            texts.append(item)
        else:
            return f"Page {index} must be a string or an object with a text string."
    return texts


def _book_fields(data: dict) -> dict | JsonResponse:
    """Keyword arguments for create_book, or the 400 naming every field of the wrong shape."""
    errors = {name: "Unknown field." for name in data if name not in KNOWN_FIELDS}
    fields: dict = {}
    for name in TEXT_FIELDS:
        value = data.get(name)
        if value is None:  # absent and null both mean "not given"
            continue
        if isinstance(value, str):
            fields[name] = value
        else:
            errors[name] = f"Must be a string, not {type(value).__name__}."
    if data.get("pages") is not None:
        pages = _page_texts(data["pages"])
        if isinstance(pages, str):
            errors["pages"] = pages
        elif "story" in fields:
            errors["story"] = "Send either story or pages, not both."
        else:
            fields["pages"] = pages
    return invalid(errors) if errors else fields


# ---------------------------------------------------------------- views


def _absolute(request: HttpRequest, url: str | None) -> str | None:
    return request.build_absolute_uri(url) if url else url


def _book_summary(request: HttpRequest, book) -> dict:
    return {
        "job_id": str(book.pk),
        "title": book.title,
        "status": book.status,
        "progress": book.progress,
        "total_pages": book.total_pages,
        "failed_image_count": book.failed_image_count,
        "created_at": book.created_at.isoformat(),
        "url": request.build_absolute_uri(reverse("api:book", args=[book.pk])),
    }


@api_view("GET", "POST")
def books(request: HttpRequest, user: AbstractBaseUser) -> JsonResponse:
    if request.method == "POST":
        return _create(request, user)
    paginator = Paginator(books_for_user(user), settings.BOOKS_PER_PAGE)
    try:
        page = paginator.page(request.GET.get("page") or 1)
    except InvalidPage:
        return invalid({"page": f"Must be a page number from 1 to {paginator.num_pages}."}, "Invalid page")

    def link(number: int) -> str:
        return request.build_absolute_uri(f"{reverse('api:books')}?page={number}")

    return JsonResponse(
        {
            "count": paginator.count,
            "page": page.number,
            "num_pages": paginator.num_pages,
            "next": link(page.next_page_number()) if page.has_next() else None,
            "previous": link(page.previous_page_number()) if page.has_previous() else None,
            "results": [_book_summary(request, book) for book in page.object_list],
        }
    )


def _create(request: HttpRequest, user: AbstractBaseUser) -> JsonResponse:
    data = _json_object(request)
    if isinstance(data, JsonResponse):
        return data
    fields = _book_fields(data)
    if isinstance(fields, JsonResponse):
        return fields
    try:
        book = create_book(owner=user, source="api", **{"title": "", **fields})
    except InvalidBook as exc:
        return invalid(exc.errors)
    except RateLimited as exc:
        return rate_limited(exc)
    status_url = request.build_absolute_uri(reverse("api:book", args=[book.pk]))
    response = JsonResponse(
        {
            "job_id": str(book.pk),
            "status": book.status,
            "title": book.title,
            "total_pages": book.total_pages,
            "status_url": status_url,
            "message": "Book accepted; poll status_url for progress.",
        },
        status=202,
    )
    response["Location"] = status_url
    return response


@api_view("GET")
def book(request: HttpRequest, user: AbstractBaseUser, book_id: str) -> JsonResponse:
    found = book_for_user(user, book_id)
    if found is None:
        return error("Job not found", 404)
    document = book_status(found)
    for page in document["pages"]:
        if page["image"] is not None:
            page["image"]["url"] = _absolute(request, page["image"]["url"])
            page["image"]["thumbnail_url"] = _absolute(request, page["image"]["thumbnail_url"])
    for pdf in document["pdfs"].values():
        pdf["url"] = _absolute(request, pdf["url"])
    document["regenerate_url"] = request.build_absolute_uri(reverse("api:regenerate", args=[found.pk]))
    return JsonResponse(document)


@api_view("POST")
def regenerate(request: HttpRequest, user: AbstractBaseUser, book_id: str) -> JsonResponse:
    try:
        result = start_regeneration(book_id=book_id, user=user)
    except RateLimited as exc:
        return rate_limited(exc)
    if result.outcome is RegenerationOutcome.NOT_FOUND:
        return error(result.message, 404)
    job_id = str(result.book.pk)
    if result.outcome is RegenerationOutcome.IN_PROGRESS:
        return error(result.message, 400, job_id=job_id, status=result.book.status)
    body = {
        "job_id": job_id,
        "failed_image_count": result.failed_image_count,
        "message": result.message,
        "status_url": request.build_absolute_uri(reverse("api:book", args=[result.book.pk])),
    }
    if result.outcome is RegenerationOutcome.STARTED:
        # Accepted and queued; a fast worker may already have moved the book on to processing.
        return JsonResponse({**body, "status": BookStatus.PENDING}, status=202)
    return JsonResponse({**body, "status": result.book.status}, status=200)


@csrf_exempt
def not_found(request: HttpRequest, path: str = "") -> JsonResponse:
    """Any other URL under /api/ answers in JSON too, not with the HTML 404 page."""
    return error("Not found", 404)
