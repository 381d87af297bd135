"""`flowdesk sla policies import FILE | export [FILE] | validate FILE | list`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowdesk.core.errors import FlowdeskError
from flowdesk.sla import store, yamlio
from flowdesk.sla.issues import SlaImportError
from flowdesk.sla.management.files import read_text, write_text


class Command(BaseCommand):
    help = "SLA policies: import, export, validate and list the ordered policy list."

    def add_arguments(self, parser: CommandParser) -> None:
        groups = parser.add_subparsers(dest="group", required=True)
        policies = groups.add_parser("policies", help="the ordered SLA policy list")
        sub = policies.add_subparsers(dest="action", required=True)
        i = sub.add_parser("import", help="replace the whole list with the file's, all or nothing")
        i.add_argument("file")
        v = sub.add_parser("validate", help="check a policies file; store nothing")
        v.add_argument("file")
        e = sub.add_parser("export", help="write the list as YAML (default: stdout)")
        e.add_argument("file", nargs="?", default="-")
        sub.add_parser("list", help="the policies in order (first match wins)")

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
        count = yamlio.check_import_policies_yaml(text, source=name)
        self.stdout.write(f"imported {name}: {count} SLA polic{'y' if count == 1 else 'ies'}")

    def do_validate(self, opts: dict[str, Any]) -> None:
        text, name = read_text(opts["file"])
        count = len(yamlio.parse_policies_yaml(text, name))
        self.stdout.write(f"{name}: valid, {count} SLA polic{'y' if count == 1 else 'ies'}")

    def do_export(self, opts: dict[str, Any]) -> None:
        write_text(self, opts["file"], yamlio.export_policies_yaml())

    def do_list(self, opts: dict[str, Any]) -> None:
        for i, policy in enumerate(store.policy_definitions()):
            calendar = policy.get("calendar") or "(ticket's calendar)"
            self.stdout.write(f"{i}\t{policy['name']}\t{calendar}")
