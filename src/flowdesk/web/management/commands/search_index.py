"""``manage.py search_index``: rebuild the inbox's full-text index from tickets and messages."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from flowdesk.web.search import rebuild


class Command(BaseCommand):
    help = "Rebuild the full-text search index of tickets (subject, messages, requester)."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            count = rebuild()
        self.stdout.write(f"indexed {count} tickets")
