"""`flowdesk sla policies import FILE | export [FILE] | validate FILE | list` and
`flowdesk sla explain TICKET [--json]`."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FlowdeskError
from flowdesk.sla import store, yamlio
from flowdesk.sla.issues import SlaImportError
from flowdesk.sla.management.files import read_text, write_text
from flowdesk.sla.report import explain_text, sla_report
from flowdesk.tickets.models import Ticket


class Command(BaseCommand):
    help = (
        "SLA policies: import, export, validate and list the ordered policy list; "
        "explain: a ticket's SLA clocks as of now."
    )

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
        x = groups.add_parser("explain", help="a ticket's SLA clocks as of now, and its breaches")
        x.add_argument("ticket", type=int, help="the ticket's id")
        x.add_argument("--json", action="store_true", help="the report as JSON (as the API)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["group"] == "explain":
            self.do_explain(opts)
            return
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

    def do_explain(self, opts: dict[str, Any]) -> None:
        ticket = Ticket.objects.filter(pk=opts["ticket"]).first()
        if ticket is None:
            raise CommandError(f"ticket {opts['ticket']} not found")
        report = sla_report(ticket, utcnow())
        if opts["json"]:
            self.stdout.write(json.dumps(report, indent=2, sort_keys=True))
        else:
            self.stdout.write(explain_text(report))
