from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from books.auth import create_token


class Command(BaseCommand):
    help = (
        "Create an API token for a user and print it once (only its hash is stored). "
        "The token alone goes to stdout, so `TOKEN=$(manage.py createtoken ada)` works."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--create-user", action="store_true", help="Create the user (with no password) if it does not exist."
        )
        parser.add_argument("--name", default="", help="A label to tell this token apart from the user's others.")

    def handle(self, *args, username: str, create_user: bool, name: str, **options) -> None:
        model = get_user_model()
        if len(name) > 100:
            raise CommandError("--name must be at most 100 characters.")
        user = model.objects.filter(**{model.USERNAME_FIELD: username}).first()
        if user is None:
            if not create_user:
                raise CommandError(f"No user named {username!r}. Pass --create-user to create one.")
            validate = getattr(model, "username_validator", None) or (lambda value: None)
            try:
                validate(username)
            except ValidationError as exc:
                raise CommandError(f"Cannot create user {username!r}: {' '.join(exc.messages)}") from None
            # No password: an API-only account cannot log in to the web pages until one is set.
            user = model.objects.create_user(username=username)
            self.stderr.write(f"Created user {username!r} (no password).")
        elif not user.is_active:
            raise CommandError(f"User {username!r} is inactive; its tokens would be refused.")
        token, raw = create_token(user=user, name=name)
        self.stdout.write(raw)
        self.stderr.write(
            f"Token {token.prefix}… created for {username!r}. Copy it now: it is not stored and cannot be shown again."
        )
