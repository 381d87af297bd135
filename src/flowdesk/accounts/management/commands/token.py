from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowdesk.accounts.models import User
from flowdesk.accounts.services import do_create_token


class Command(BaseCommand):
    help = "Create an API token for a user (the key is printed once)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        c = sub.add_parser("create")
        c.add_argument("email")
        c.add_argument("--name", default="cli")

    def handle(self, *args: Any, **opts: Any) -> None:
        user = User.objects.filter(email=opts["email"].lower()).first()
        if user is None:
            raise CommandError(f"no user with e-mail {opts['email']!r}")
        _, raw = do_create_token(user, opts["name"])
        self.stdout.write(raw)
