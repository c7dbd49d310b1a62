from django.urls import path

from books import downloads, views

app_name = "books"

urlpatterns = [
    path("", views.book_list, name="list"),
    path("books/new", views.book_new, name="new"),
    path("books/<str:book_id>", views.book_detail, name="detail"),
    path("books/<str:book_id>/status", views.book_status_json, name="status"),
    path("books/<str:book_id>/regenerate", views.book_regenerate, name="regenerate"),
    path("books/<str:book_id>/pages/<int:page_number>.jpg", downloads.page_image, name="image"),
    path("books/<str:book_id>/pages/<int:page_number>/thumb.jpg", downloads.page_thumbnail, name="thumbnail"),
    path("books/<str:book_id>/pdf/<str:kind>", downloads.book_pdf, name="pdf"),
]
