import pytest

from books.models import BookJob
from books.ratelimit import RateLimited
from books.services import create_book

pytestmark = pytest.mark.django_db


def test_creating_books_past_the_hourly_limit_is_refused(user, other_user, settings):
    settings.RATE_LIMIT_BOOKS_PER_HOUR = 2
    create_book(owner=user, title="One", story="A short story.")
    create_book(owner=user, title="Two", story="A short story.")
    with pytest.raises(RateLimited) as caught:
        create_book(owner=user, title="Three", story="A short story.")
    assert 0 < caught.value.retry_after <= 3600
    assert "2 an hour" in caught.value.message
    assert BookJob.objects.filter(owner=user).count() == 2
    # Limits are per user.
    create_book(owner=other_user, title="Bob's", story="A short story.")


def test_invalid_input_does_not_use_up_the_limit(user, settings):
    from books.services import InvalidBook

    settings.RATE_LIMIT_BOOKS_PER_HOUR = 1
    with pytest.raises(InvalidBook):
        create_book(owner=user, title="", story="text")
    create_book(owner=user, title="Fine", story="A short story.")


def test_staff_are_not_limited(django_user_model, settings):
    settings.RATE_LIMIT_BOOKS_PER_HOUR = 1
    staff = django_user_model.objects.create_user(username="staff", is_staff=True)
    for n in range(3):
        create_book(owner=staff, title=f"Staff {n}", story="A short story.")
    assert BookJob.objects.filter(owner=staff).count() == 3
