from django.urls import path, re_path

from books import api

app_name = "api"

urlpatterns = [
    path("books", api.books, name="books"),
    path("books/<str:book_id>", api.book, name="book"),
    path("books/<str:book_id>/regenerate", api.regenerate, name="regenerate"),
    re_path(r"^(?P<path>.*)$", api.not_found),
]
