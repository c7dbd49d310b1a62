# TEMPORARY placeholder while the JSON API is being written (replaced in the next commit).
from django.http import JsonResponse


def _todo(request, *args, **kwargs):
    return JsonResponse({"error": "not implemented"}, status=501)


books = book = regenerate = _todo
