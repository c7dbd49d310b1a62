import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection

from books.auth import TOKEN_PREFIX
from books.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)


def createtoken(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("createtoken", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def every_stored_text() -> str:
    """Every column of every api token row, as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")
        return repr(cursor.fetchall())


def test_prints_the_token_once_and_stores_only_its_hash(client, user):
    out, err = createtoken("ada", "--name", "laptop")

    raw = out.strip()
    assert raw.startswith(TOKEN_PREFIX) and "\n" not in raw and len(raw) > 40
    assert "not stored" in err
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.prefix) == (user, "laptop", raw[:12])
    assert raw not in every_stored_text() and raw[12:] not in every_stored_text()

    response = client.get("/api/v1/books", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    ApiToken.objects.get().refresh_from_db()
    assert ApiToken.objects.get().last_used_at is not None


def test_each_call_makes_a_new_token(user):
    first, _ = createtoken("ada")
    second, _ = createtoken("ada")
    assert first != second and ApiToken.objects.filter(user=user).count() == 2


def test_unknown_user_is_a_clear_error():
    with pytest.raises(CommandError, match=r"No user named 'nobody'\. Pass --create-user"):
        createtoken("nobody")
    assert not get_user_model().objects.exists() and not ApiToken.objects.exists()


def test_create_user_makes_an_api_only_account(client):
    out, err = createtoken("robot", "--create-user")

    robot = get_user_model().objects.get(username="robot")
    assert not robot.has_usable_password()
    assert "Created user 'robot'" in err
    assert client.get("/api/v1/books", headers={"Authorization": f"Bearer {out.strip()}"}).status_code == 200


def test_create_user_refuses_an_invalid_username():
    with pytest.raises(CommandError, match="Cannot create user"):
        createtoken("no spaces allowed", "--create-user")
    assert not get_user_model().objects.exists()


def test_inactive_user_gets_no_token(user):
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    with pytest.raises(CommandError, match="inactive"):
        createtoken("ada")
    assert not ApiToken.objects.exists()
