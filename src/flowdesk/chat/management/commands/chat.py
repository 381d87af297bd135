"""flowdesk chat sites list|add: the websites that embed the chat widget (docs/chat.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowdesk.core.errors import FlowdeskError


class Command(BaseCommand):
    help = "Live chat: list or add the sites that embed the widget."

    def add_arguments(self, parser: CommandParser) -> None:
        what = parser.add_subparsers(dest="what", required=True)
        sites = what.add_parser("sites", help="chat sites").add_subparsers(
            dest="action", required=True
        )
        sites.add_parser("list", help="list the chat sites")
        add = sites.add_parser("add", help="add a chat site")
        add.add_argument("name")
        add.add_argument("--origin", action="append", default=[], help="an allowed origin (repeat)")
        add.add_argument("--team", default=None)
        add.add_argument("--name-required", action="store_true")
        add.add_argument("--email-required", action="store_true")

    def handle(self, *args: Any, **o: Any) -> None:
        from flowdesk.chat.models import ChatSite
        from flowdesk.chat.sites import check_create_site

        try:
            if o["action"] == "add":
                site = check_create_site(
                    {
                        "name": o["name"],
                        "allowed_origins": o["origin"],
                        "team": o["team"],
                        "name_required": o["name_required"],
                        "email_required": o["email_required"],
                    }
                )
                self.stdout.write(f"added chat site {site.name}")
                self.stdout.write(f"  data-site: {site.public_key}")
                self.stdout.write(f"  identity secret: {site.identity_secret}")
                return
        except FlowdeskError as exc:
            raise CommandError(str(exc)) from None
        for s in ChatSite.objects.select_related("team").order_by("name"):
            state = "active" if s.active else "inactive"
            team = s.team.name if s.team else "-"
            origins = " ".join(s.allowed_origins) or "-"
            self.stdout.write(f"{s.name}\t{s.public_key}\t{team}\t{state}\t{origins}")
