"""File downloads. Every file is served only to its book's owner: streamed from local storage, or
handed over as a short-lived signed URL on S3/R2. No stored file has a public URL."""

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_GET

from books.models import BookPdf, PdfKind
from books.selectors import book_for_user
from images.models import GeneratedImage, ImageStatus


def _serve(file: FieldFile, *, filename: str, content_type: str, attachment: bool = False) -> HttpResponse:
    if not file or not file.name:
        raise Http404("No such file")
    if not hasattr(default_storage, "path"):  # object storage: a signed URL that expires in minutes
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


@login_required
@require_GET
def page_image(request: HttpRequest, book_id: str, page_number: int) -> HttpResponse:
    image = _image(request, book_id, page_number)
    return _serve(image.image, filename=f"page_{page_number}.jpg", content_type="image/jpeg")


@login_required
@require_GET
def page_thumbnail(request: HttpRequest, book_id: str, page_number: int) -> HttpResponse:
    image = _image(request, book_id, page_number)
    return _serve(image.thumbnail, filename=f"page_{page_number}_thumb.jpg", content_type="image/jpeg")


@login_required
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
