import pytest

from books.auth import create_token


@pytest.fixture
def token(user) -> str:
    return create_token(user=user, name="tests")[1]


@pytest.fixture
def auth(token) -> dict:
    """Request headers that authenticate as ``user`` with a bearer token."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """The user fixtures hash a password; the slow default hasher would dominate these tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
