"""IMAGE_FAULT_RATE drills: books still come out when a share of provider calls fail."""

import random

import pytest

from books.models import BookStatus
from books.services import create_book
from images.models import AttemptOutcome, GeneratedImage, ImageAttempt, ImageStatus
from images.providers import TransientProviderError, get_provider
from images.providers.faults import FaultInjectingProvider
from images.providers.local import LocalIllustrator

INJECTED = "Injected fault (IMAGE_FAULT_RATE): provider overloaded"


def test_the_fault_rate_setting_wraps_the_provider(settings):
    settings.IMAGE_FAULT_RATE = 0.0
    assert isinstance(get_provider(), LocalIllustrator)
    settings.IMAGE_FAULT_RATE = 0.3
    provider = get_provider()
    assert isinstance(provider, FaultInjectingProvider) and provider.rate == 0.3
    assert (provider.name, provider.model) == ("local", LocalIllustrator.model)  # same cache keys, same budget


def test_injected_faults_are_transient_and_at_the_configured_rate():
    class Instant:
        name, model = "instant", "instant/1"

        def generate(self, prompt):
            from images.providers import Picture

            return Picture(data=b"ok", model=self.model)

    always = FaultInjectingProvider(Instant(), rate=1.0, rng=random.Random(1))
    with pytest.raises(TransientProviderError) as caught:
        always.generate("a page")
    assert caught.value.http_status == 503 and caught.value.message == INJECTED
    assert FaultInjectingProvider(Instant(), rate=0.0).generate("a page").data == b"ok"
    drill = FaultInjectingProvider(Instant(), rate=0.3, rng=random.Random(2024))
    failures = 0
    for _ in range(10_000):
        try:
            drill.generate("a page")
        except TransientProviderError:
            failures += 1
    assert 0.28 < failures / 10_000 < 0.32


@pytest.mark.django_db(transaction=True)
def test_a_book_made_under_a_30_percent_fault_rate_completes(user, run_worker, settings):
    settings.IMAGE_FAULT_RATE = 0.3
    words = ["green", "tall", "quiet", "golden", "windy", "dark", "silver", "sleepy", "muddy", "last"]
    pages = [f"Page {n}: the otter paddled past the {word} reeds." for n, word in enumerate(words, start=1)]
    book = create_book(owner=user, title="The Otter Drill", pages=pages)
    run_worker()
    book.refresh_from_db()

    # How many calls fail is chance; what must hold every time is below.
    assert book.status == BookStatus.COMPLETED, book.error
    images = list(GeneratedImage.objects.filter(book=book))
    assert len(images) == 12
    for image in images:
        recorded = list(image.attempts.order_by("number"))
        assert 1 <= len(recorded) <= 3, image
        assert [a.number for a in recorded] == list(range(1, len(recorded) + 1))
        *retried, last = recorded
        for attempt in retried:
            assert (attempt.outcome, attempt.http_status, attempt.error) == (AttemptOutcome.TRANSIENT, 503, INJECTED)
            assert attempt.wait_seconds is not None
        assert last.wait_seconds is None
        if image.status == ImageStatus.COMPLETED:
            assert last.outcome == AttemptOutcome.SUCCESS and image.size_bytes > 0
        else:
            assert image.status == ImageStatus.FAILED
            assert last.outcome == AttemptOutcome.TRANSIENT
            assert image.error.startswith("Injected fault (IMAGE_FAULT_RATE): provider overloaded")
    assert ImageAttempt.objects.filter(image__book=book).count() >= len(images)
    failed = sum(image.status == ImageStatus.FAILED for image in images)
    assert book.progress == "Book completed" + (f"; {failed} page(s) without an illustration" if failed else "")
    assert book.pdfs.count() == 2
