import uuid

from django.db import models


class ImageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class GeneratedImage(models.Model):
    """The illustration of one page of a book, and where its generation stands."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    book = models.ForeignKey("books.BookJob", on_delete=models.CASCADE, related_name="images")
    page_number = models.PositiveIntegerField()
    prompt = models.TextField()
    prompt_hash = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=ImageStatus.choices, default=ImageStatus.PENDING, db_index=True)
    image = models.FileField(upload_to="images/", max_length=300, blank=True)
    thumbnail = models.FileField(upload_to="images/", max_length=300, blank=True)
    size_bytes = models.PositiveIntegerField(default=0)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    model = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    cached = models.BooleanField(default=False, help_text="Copied from an identical earlier prompt.")
    retry_attempt = models.PositiveIntegerField(default=0, help_text="Regeneration rounds this image went through.")
    retried_at = models.DateTimeField(null=True, blank=True)
    # A worker that claims the page owns it until the lease runs out; a lapsed lease on a
    # processing page means its worker died.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["book", "page_number"]
        constraints = [models.UniqueConstraint(fields=["book", "page_number"], name="unique_page_per_book")]

    def __str__(self) -> str:
        return f"{self.book_id} page {self.page_number}"


class AttemptOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    TRANSIENT = "transient", "Transient failure"
    PERMANENT = "permanent", "Permanent failure"


class ImageAttempt(models.Model):
    """One call to the image provider for one image."""

    image = models.ForeignKey(GeneratedImage, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField(help_text="Attempt number within its round, from 1.")
    round = models.PositiveIntegerField(default=0, help_text="The image's retry_attempt when the call was made.")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    wait_seconds = models.FloatField(null=True, blank=True, help_text="Backoff wait that followed this call.")

    class Meta:
        ordering = ["image", "round", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} (round {self.round}): {self.outcome}"
