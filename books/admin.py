from collections import Counter

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from books.models import ApiToken, BookJob, BookPdf
from books.services import RegenerationOutcome, start_regeneration
from images.admin import thumbnail_tag
from images.models import GeneratedImage, ImageStatus


class GeneratedImageInline(admin.TabularInline):
    model = GeneratedImage
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("page_number", "preview", "status", "error", "retry_attempt", "retried_at", "model", "cached")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Thumbnail")
    def preview(self, obj: GeneratedImage) -> str:
        return thumbnail_tag(obj)


@admin.register(BookJob)
class BookJobAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "status", "total_pages", "failed_images", "progress", "created_at")
    list_filter = ("status", "language", "created_at")
    search_fields = ("title", "author", "id", "owner__username")
    list_select_related = ("owner",)
    readonly_fields = ("id", "status", "progress", "error", "total_pages", "pdf_links", "created_at", "updated_at",
                       "completed_at", "lease_expires_at", "rq_job_ids", "pages", "params")  # fmt: skip
    inlines = [GeneratedImageInline]
    actions = ["retry_failed_images"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(failed_count=Count("images", filter=Q(images__status=ImageStatus.FAILED)))
        )

    @admin.display(description="Failed images", ordering="failed_count")
    def failed_images(self, obj: BookJob) -> int:
        return obj.failed_count

    @admin.display(description="PDFs")
    def pdf_links(self, obj: BookJob) -> str:
        pdfs = BookPdf.objects.filter(book=obj)
        return format_html_join(
            " · ",
            '<a href="{}">{}</a> ({} pages)',
            ((reverse("books:pdf", args=[obj.pk, pdf.kind]), pdf.get_kind_display(), pdf.page_count) for pdf in pdfs),
        ) or "—"

    @admin.action(description="Retry failed images")
    def retry_failed_images(self, request, queryset) -> None:
        outcomes = Counter(
            start_regeneration(book_id=book.pk, user=request.user, allow_staff=True).outcome for book in queryset
        )
        started = outcomes[RegenerationOutcome.STARTED]
        nothing = outcomes[RegenerationOutcome.NOTHING_TO_DO]
        busy = outcomes[RegenerationOutcome.IN_PROGRESS]
        self.message_user(
            request,
            f"Regeneration started for {started} book(s); {nothing} had nothing to retry; {busy} still in progress.",
            messages.SUCCESS if started else messages.INFO,
        )


@admin.register(BookPdf)
class BookPdfAdmin(admin.ModelAdmin):
    list_display = ("book", "kind", "page_count", "size_bytes", "created_at", "download")
    list_filter = ("kind",)
    search_fields = ("book__title",)
    readonly_fields = ("book", "kind", "file", "page_count", "size_bytes", "created_at")

    @admin.display(description="Download")
    def download(self, obj: BookPdf) -> str:
        return format_html('<a href="{}">download</a>', reverse("books:pdf", args=[obj.book_id, obj.kind]))


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("user__username", "name", "prefix")
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at")
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # tokens are made by `manage.py createtoken`, which shows the raw token once

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset) -> None:
        from django.utils import timezone

        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).")
