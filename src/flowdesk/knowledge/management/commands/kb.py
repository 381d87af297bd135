"""`flowdesk kb import FILE | validate FILE | list`: the knowledge base from YAML or JSON."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FlowdeskError, ValidationFailed
from flowdesk.knowledge.importer import check_import_kb, parse_kb
from flowdesk.knowledge.models import Article
from flowdesk.sla.management.files import read_text


class _DryRun(Exception):
    """Rolls a validation import back."""


class Command(BaseCommand):
    help = "Import (all or nothing), validate and list knowledge-base articles."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        i = sub.add_parser("import", help="create or update the file's categories and articles")
        i.add_argument("file")
        v = sub.add_parser("validate", help="check a file; store nothing")
        v.add_argument("file")
        sub.add_parser("list", help="slug, visibility, category, languages")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            if opts["action"] == "list":
                self.do_list()
                return
            text, name = read_text(opts["file"])
            data = parse_kb(text, name)
            if opts["action"] == "import":
                result = check_import_kb(data, author=None, now=utcnow(), source=name)
                self.stdout.write(f"imported {name}: {result.summary()}")
                return
            try:
                with transaction.atomic():
                    result = check_import_kb(data, author=None, now=utcnow(), source=name)
                    raise _DryRun
            except _DryRun:
                self.stdout.write(f"{name}: valid; would write {result.summary()}")
        except ValidationFailed as exc:
            for e in exc.errors:
                self.stderr.write(f"{e.field}: {e.message}")
            raise CommandError(
                f"invalid knowledge base: {len(exc.errors)} problem(s); nothing was changed"
            ) from exc
        except FlowdeskError as exc:
            raise CommandError(str(exc)) from exc

    def do_list(self) -> None:
        articles = Article.objects.select_related("category").prefetch_related("translations")
        for a in articles.order_by("category__slug", "slug"):
            langs = ",".join(sorted(t.language for t in a.translations.all()))
            self.stdout.write(f"{a.slug}\t{a.visibility}\t{a.category.slug}\t{langs}")
