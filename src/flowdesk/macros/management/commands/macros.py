"""`flowdesk macros import FILE [--prune] | export [FILE] | validate FILE | list`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowdesk.core.clock import utcnow
from flowdesk.macros import yamlio
from flowdesk.macros.models import Macro
from flowdesk.sla.issues import SlaImportError
from flowdesk.sla.management.files import read_text, write_text


class Command(BaseCommand):
    help = "Import, export, validate and list macros (canned replies with field changes)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        i = sub.add_parser("import", help="create or replace the file's macros, all or nothing")
        i.add_argument("file")
        i.add_argument("--prune", action="store_true", help="also delete macros not in the file")
        sub.add_parser("validate", help="check a macros file; store nothing").add_argument("file")
        e = sub.add_parser("export", help="write every macro as YAML (default: stdout)")
        e.add_argument("file", nargs="?", default="-")
        sub.add_parser("list", help="position, name, visibility, usage count")

    def handle(self, *args: Any, **opts: Any) -> None:
        action = opts["action"]
        if action == "export":
            write_text(self, opts["file"], yamlio.export_macros_yaml())
            return
        if action == "list":
            for m in Macro.objects.select_related("team", "owner").order_by("position", "name"):
                seen_by = m.team.name if m.team else m.owner.email if m.owner else ""
                state = "" if m.active else "inactive"
                self.stdout.write(
                    f"{m.position}\t{m.name}\t{m.visibility}\t{seen_by}\t{m.usage_count}\t{state}"
                )
            return
        text, name = read_text(opts["file"])
        try:
            if action == "validate":
                found = len(yamlio.parse_macros(text, name))
                self.stdout.write(f"{name}: valid, {found} macro(s)")
                return
            result = yamlio.check_import_macros_yaml(
                text, source=name, actor=None, now=utcnow(), prune=opts["prune"]
            )
        except SlaImportError as exc:
            self.stderr.write("\n".join(map(str, exc.issues)))
            raise CommandError(
                f"invalid macros: {len(exc.issues)} problem(s); nothing changed"
            ) from exc
        self.stdout.write(f"imported {name}: {result.summary()}")
