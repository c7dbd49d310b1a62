# TEMPORARY placeholder while the web pages are being written (replaced in the next commit).
from django.http import HttpResponse


def _todo(request, *args, **kwargs):
    return HttpResponse("coming soon", status=501)


book_list = book_new = book_detail = book_status_json = book_regenerate = _todo
