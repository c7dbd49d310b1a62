import uuid

from django.conf import settings
from django.db import models


class BookStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


IN_PROGRESS = (BookStatus.PENDING, BookStatus.PROCESSING)


class BookJob(models.Model):
    """A story on its way to becoming a picture book, and the book it became."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="books")
    title = models.CharField(max_length=200)
    author = models.CharField(max_length=200, blank=True)
    language = models.CharField(max_length=8, default="en")
    story = models.TextField(blank=True, help_text="The story as submitted, when given as text.")
    story_pages = models.JSONField(null=True, blank=True, help_text="The story as submitted, when given as pages.")
    params = models.JSONField(default=dict, blank=True, help_text="Request parameters: style, end text, source.")
    pages = models.JSONField(default=list, blank=True, help_text="The laid-out book: number, kind and text per page.")
    status = models.CharField(max_length=16, choices=BookStatus.choices, default=BookStatus.PENDING, db_index=True)
    progress = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    total_pages = models.PositiveIntegerField(default=0)
    # Set by whichever page finished last, so that exactly one render follows a round.
    rendering = models.BooleanField(default=False)
    # Renewed by the worker drawing the book; lapsed while the book is in progress and none of
    # its RQ jobs is waiting means that worker died (see books.services.recover_orphaned_books).
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    rq_job_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return self.title

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS


class PdfKind(models.TextChoices):
    BOOKLET = "booklet", "Print booklet"
    REVIEW = "review", "Review copy"


class BookPdf(models.Model):
    book = models.ForeignKey(BookJob, on_delete=models.CASCADE, related_name="pdfs")
    kind = models.CharField(max_length=16, choices=PdfKind.choices)
    file = models.FileField(upload_to="pdfs/", max_length=300)
    page_count = models.PositiveIntegerField(default=0)
    size_bytes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["book", "kind"]
        constraints = [models.UniqueConstraint(fields=["book", "kind"], name="one_pdf_of_each_kind")]

    def __str__(self) -> str:
        return f"{self.book} ({self.kind})"


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, help_text="The token's first characters, to tell tokens apart.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"
