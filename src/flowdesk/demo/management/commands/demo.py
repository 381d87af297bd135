from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowdesk.accounts.models import User
from flowdesk.core.clock import utcnow
from flowdesk.demo.seed import ADMIN_EMAIL, AGENTS, DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Seed the demo help desk (teams, agents, customers, rules, ~200 tickets)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, default=200)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **opts: Any) -> None:
        if User.objects.filter(email=ADMIN_EMAIL).exists():
            raise CommandError("the demo is already seeded (use a fresh database)")
        if opts["tickets"] < 0:
            raise CommandError("--tickets must be 0 or more")
        result = seed_demo(tickets=opts["tickets"], seed=opts["seed"], now=utcnow())
        self.stdout.write(
            f"seeded {result['tickets']} tickets; admin {result['admin']} "
            f"(password: {DEMO_PASSWORD}); API token: {result['token']}"
        )
        agents = ", ".join(email for people in AGENTS.values() for email, _ in people)
        self.stdout.write(
            f"sign in to the agent workspace at /login as {result['admin']} or an agent "
            f"({agents}), password: {DEMO_PASSWORD}"
        )
        self.stdout.write(
            f"sign in to the customer portal at /portal/login as {result['customer']}, "
            f"password: {DEMO_PASSWORD} (or ask there for a sign-in link by e-mail)"
        )
        self.stdout.write(
            "try the live chat as a website visitor at /agent/chats/try (signed in as an agent) "
            "and answer it in /agent/chats/"
        )
