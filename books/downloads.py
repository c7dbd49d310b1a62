"""File downloads. Every file is served only to its book's owner: streamed from local storage, or
handed over as a short-lived signed URL on S3/R2. No stored file has a public URL."""

import functools

from django.contrib.auth.views import redirect_to_login
from django.core.files.storage import default_storage
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.http import require_GET

from books.auth import bearer_token, request_user
from books.models import BookPdf, PdfKind
from books.selectors import book_for_user
from images.models import GeneratedImage, ImageStatus


def login_or_token_required(view):
    """Like login_required, but an API client may send its bearer token instead of a session.

    A client that sent a token gets a 401 it can act on; a browser goes to the login page.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request_user(request)
        if not user.is_authenticated:
            if bearer_token(request) is not None:
                return JsonResponse({"error": "Authentication required"}, status=401)
            return redirect_to_login(request.get_full_path())
        request.user = user  # the views below read request.user, whichever way it was proven
        return view(request, *args, **kwargs)

    return wrapper


def _has_local_files() -> bool:
    # Every storage has .path(); only those with files on this machine don't raise from it.
    try:
        default_storage.path("")
    except NotImplementedError:
        return False
    return True


def _serve(file: FieldFile, *, filename: str, content_type: str, attachment: bool = False) -> HttpResponse:
    if not file or not file.name:
        raise Http404("No such file")
    if not _has_local_files():  # object storage: a signed URL that expires in minutes
        params = {"ResponseContentDisposition": f'{"attachment" if attachment else "inline"}; filename="{filename}"'}
        return HttpResponseRedirect(default_storage.url(file.name, parameters=params))
    try:
        handle = default_storage.open(file.name, "rb")
    except FileNotFoundError:
        raise Http404("No such file") from None
    response = FileResponse(handle, content_type=content_type, as_attachment=attachment, filename=filename)
    response["Cache-Control"] = "private, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _image(request: HttpRequest, book_id: str, page_number: int) -> GeneratedImage:
    book = book_for_user(request.user, book_id)
    if book is None:
        raise Http404("Book not found")
    image = book.images.filter(page_number=page_number, status=ImageStatus.COMPLETED).first()
    if image is None:
        raise Http404("No illustration for this page")
    return image


@login_or_token_required
@require_GET
def page_image(request: HttpRequest, book_id: str, page_number: int) -> HttpResponse:
    image = _image(request, book_id, page_number)
    return _serve(image.image, filename=f"page_{page_number}.jpg", content_type="image/jpeg")


@login_or_token_required
@require_GET
def page_thumbnail(request: HttpRequest, book_id: str, page_number: int) -> HttpResponse:
    image = _image(request, book_id, page_number)
    return _serve(image.thumbnail, filename=f"page_{page_number}_thumb.jpg", content_type="image/jpeg")


@login_or_token_required
@require_GET
def book_pdf(request: HttpRequest, book_id: str, kind: str) -> HttpResponse:
    book = book_for_user(request.user, book_id)
    if book is None or kind not in PdfKind.values:
        raise Http404("Not found")
    pdf = BookPdf.objects.filter(book=book, kind=kind).first()
    if pdf is None:
        raise Http404("This PDF is not ready yet")
    slug = "".join(c if c.isalnum() else "-" for c in book.title.lower()).strip("-")[:60] or "book"
    return _serve(pdf.file, filename=f"{slug}-{kind}.pdf", content_type="application/pdf", attachment=True)
