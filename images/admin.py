from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html

from images.models import GeneratedImage, ImageAttempt


class ImageAttemptInline(admin.TabularInline):
    model = ImageAttempt
    extra = 0
    can_delete = False
    fields = ("round", "number", "started_at", "duration_ms", "outcome", "http_status", "error", "wait_seconds")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


def thumbnail_tag(image: GeneratedImage) -> str:
    if not image.thumbnail:
        return "—"
    from django.urls import reverse

    url = reverse("books:thumbnail", args=[image.book_id, image.page_number])
    return format_html('<img src="{}" style="height:64px;border-radius:4px" alt="">', url)


@admin.register(GeneratedImage)
class GeneratedImageAdmin(admin.ModelAdmin):
    list_display = ("book", "page_number", "status", "calls", "retry_attempt", "retried_at", "short_error", "cached")
    list_filter = ("status", "cached", "retry_attempt", "model")
    search_fields = ("book__title", "book__id", "error", "prompt")
    list_select_related = ("book",)
    readonly_fields = ("preview", "prompt_hash", "size_bytes", "width", "height", "created_at", "updated_at",
                       "completed_at", "retried_at", "retry_attempt", "lease_expires_at")  # fmt: skip
    inlines = [ImageAttemptInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(call_count=Count("attempts"))

    @admin.display(description="Calls", ordering="call_count")
    def calls(self, obj: GeneratedImage) -> int:
        return obj.call_count

    @admin.display(description="Error")
    def short_error(self, obj: GeneratedImage) -> str:
        return obj.error[:80]

    @admin.display(description="Preview")
    def preview(self, obj: GeneratedImage) -> str:
        return thumbnail_tag(obj)
