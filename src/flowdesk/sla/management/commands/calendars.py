"""`flowdesk calendars import FILE | export [FILE] | validate FILE | list`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowdesk.core.errors import FlowdeskError
from flowdesk.sla import yamlio
from flowdesk.sla.issues import SlaImportError
from flowdesk.sla.management.files import read_text, write_text
from flowdesk.sla.models import Calendar


class Command(BaseCommand):
    help = "Import, export and list business-hours calendars (a YAML file is the whole set)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        i = sub.add_parser("import", help="make the stored calendars the file's, all or nothing")
        i.add_argument("file")
        v = sub.add_parser("validate", help="check a calendars file; store nothing")
        v.add_argument("file")
        e = sub.add_parser("export", help="write every calendar as YAML (default: stdout)")
        e.add_argument("file", nargs="?", default="-")
        sub.add_parser("list", help="name, time zone, default, teams")

    def handle(self, *args: Any, **opts: Any) -> None:
        actions = {
            "import": self.do_import,
            "validate": self.do_validate,
            "export": self.do_export,
            "list": self.do_list,
        }
        try:
            actions[opts["action"]](opts)
        except SlaImportError as exc:
            for issue in exc.issues:
                self.stderr.write(str(issue))
            raise CommandError(
                f"invalid {exc.what}: {len(exc.issues)} problem(s); nothing was changed"
            ) from exc
        except FlowdeskError as exc:
            raise CommandError(str(exc)) from exc

    def do_import(self, opts: dict[str, Any]) -> None:
        text, name = read_text(opts["file"])
        result = yamlio.check_import_calendars_yaml(text, source=name)
        self.stdout.write(f"imported {name}: {result.summary()}")

    def do_validate(self, opts: dict[str, Any]) -> None:
        text, name = read_text(opts["file"])
        parsed = yamlio.parse_calendars(text, name)
        self.stdout.write(f"{name}: valid, {len(parsed)} calendar(s)")

    def do_export(self, opts: dict[str, Any]) -> None:
        write_text(self, opts["file"], yamlio.export_calendars_yaml())

    def do_list(self, opts: dict[str, Any]) -> None:
        for cal in Calendar.objects.order_by("name").prefetch_related("team_links__team"):
            teams = ", ".join(sorted(link.team.name for link in cal.team_links.all()))
            default = "default" if cal.is_default else ""
            self.stdout.write(f"{cal.name}\t{cal.definition['time_zone']}\t{default}\t{teams}")
