"""`flowdesk rules validate | import | export | dry-run | explain | versions | restore |
flowchart | backtest`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowdesk.automation import services
from flowdesk.automation.backtest import DAYS_MAX, DEFAULT_LIMIT, LIMIT_MAX, backtest
from flowdesk.automation.dryrun import dry_run
from flowdesk.automation.explain import explain_update
from flowdesk.automation.models import RuleSetVersion
from flowdesk.automation.studio import flowchart
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FlowdeskError
from flowdesk.engine import RuleSetError
from flowdesk.engine.explain import summarise
from flowdesk.tickets.models import Ticket, TicketUpdate


def _read(path: str) -> tuple[str, str]:
    if path == "-":
        return sys.stdin.read(), "<stdin>"
    p = Path(path)
    if not p.is_file():
        raise CommandError(f"{path}: no such file")
    return p.read_text(encoding="utf-8"), path


FULL_HELP = (
    "list every rule (with its condition tree in --json); default: the rules that fired and "
    "the closest misses, every rule counted"
)


class Command(BaseCommand):
    help = "Validate, import, export, dry-run and explain automation rule sets."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        v = sub.add_parser("validate", help="check a YAML rule set; store nothing")
        v.add_argument("file")
        i = sub.add_parser("import", help="validate and store as the new active version")
        i.add_argument("file")
        i.add_argument("--comment", default="")
        e = sub.add_parser("export", help="print a version as YAML (default: active)")
        e.add_argument("--version", type=int, dest="number")
        e.add_argument("-o", "--output")
        d = sub.add_parser("dry-run", help="evaluate rules on a ticket without changing it")
        src = d.add_mutually_exclusive_group(required=True)
        src.add_argument("--ticket", type=int, help="a stored ticket id")
        src.add_argument("--snapshot", help="a JSON file with a ticket snapshot")
        d.add_argument("--rules", help="a candidate YAML rule set (default: the active one)")
        d.add_argument("--event", help='JSON, e.g. {"kind": "updated", "changes": {...}}')
        d.add_argument("--json", action="store_true", help="print the result as JSON")
        d.add_argument("--full", action="store_true", help=FULL_HELP)
        x = sub.add_parser("explain", help="why rules did what they did on a ticket")
        x.add_argument("ticket", type=int)
        x.add_argument("--update", type=int, help="an update id (default: the latest)")
        x.add_argument("--json", action="store_true")
        x.add_argument("--full", action="store_true", help=FULL_HELP)
        sub.add_parser("versions", help="list stored versions")
        r = sub.add_parser("restore", help="make an earlier version active again")
        r.add_argument("number", type=int)
        f = sub.add_parser("flowchart", help="print a version's rules as a mermaid flowchart")
        f.add_argument("--rule", help="one rule, with the rules it cascades from and into")
        f.add_argument("--version", type=int, dest="number", help="default: the active one")
        f.add_argument("--json", action="store_true", help="the nodes and edges too, as JSON")
        b = sub.add_parser("backtest", help="where a candidate rule set would have fired")
        b.add_argument("file", help="a candidate YAML rule set (- for stdin)")
        b.add_argument("--days", type=int, default=30, help=f"the last N days (1-{DAYS_MAX})")
        b.add_argument("--rule", help="report this rule only")
        b.add_argument(
            "--limit",
            type=int,
            default=DEFAULT_LIMIT,
            help=f"updates scanned at most (1-{LIMIT_MAX:,})",
        )
        b.add_argument("--sample", type=int, default=5, help="update references per list")
        b.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        actions = {
            "validate": self.do_validate,
            "import": self.do_import,
            "export": self.do_export,
            "dry-run": self.do_dry_run,
            "explain": self.do_explain,
            "versions": self.do_versions,
            "restore": self.do_restore,
            "flowchart": self.do_flowchart,
            "backtest": self.do_backtest,
        }
        try:
            actions[opts["action"]](opts)
        except RuleSetError as exc:
            for issue in exc.issues:
                self.stderr.write(str(issue))
            raise CommandError(
                f"invalid rule set: {len(exc.issues)} problem(s); nothing was changed"
            ) from exc
        except FlowdeskError as exc:
            raise CommandError(str(exc)) from exc

    def do_validate(self, opts: dict[str, Any]) -> None:
        text, name = _read(opts["file"])
        ruleset = services.validate_yaml(text, name)
        warnings = services.rule_warnings(ruleset, yaml_text=text, source=name)
        for w in warnings:
            self.stdout.write(w["text"])
        self.stdout.write(
            f"{name}: valid, {len(ruleset.definition['rules'])} rules"
            + (f", {len(warnings)} warning(s)" if warnings else "")
        )

    def do_import(self, opts: dict[str, Any]) -> None:
        text, name = _read(opts["file"])
        version = services.check_import_yaml(
            text, source=name, author=None, comment=opts["comment"]
        )  # validated and compiled once; the compiled set is then cached
        ruleset = services.compiled_version(version)
        for w in services.rule_warnings(ruleset, yaml_text=text, source=name):
            self.stdout.write(w["text"])
        self.stdout.write(
            f"imported {name} as v{version.number} "
            f"({len(version.definition['rules'])} rules, now active)"
        )

    def do_export(self, opts: dict[str, Any]) -> None:
        text = services.export_yaml(opts["number"])
        if opts["output"]:
            Path(opts["output"]).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")

    def do_versions(self, opts: dict[str, Any]) -> None:
        for v in RuleSetVersion.objects.select_related("author"):
            who = v.author.email if v.author else "cli"
            self.stdout.write(
                f"v{v.number}\t{v.created_at:%Y-%m-%d %H:%M}\t{who}\t"
                f"{len(v.definition.get('rules', []))} rules\t{v.comment}"
            )

    def do_restore(self, opts: dict[str, Any]) -> None:
        version = services.check_restore_version(opts["number"], author=None)
        self.stdout.write(f"restored v{opts['number']} as v{version.number} (now active)")

    def do_flowchart(self, opts: dict[str, Any]) -> None:
        chart = flowchart(opts["number"], opts["rule"])
        if opts["json"]:
            self.stdout.write(json.dumps(chart, indent=2))
        else:
            self.stdout.write(chart["mermaid"], ending="")

    def do_backtest(self, opts: dict[str, Any]) -> None:
        if not 1 <= opts["days"] <= DAYS_MAX:
            raise CommandError(f"--days must be between 1 and {DAYS_MAX}")
        if not 1 <= opts["limit"] <= LIMIT_MAX:
            raise CommandError(f"--limit must be between 1 and {LIMIT_MAX:,}")
        text, name = _read(opts["file"])
        ruleset = services.validate_yaml(text, name)
        result = backtest(
            ruleset,
            days=opts["days"],
            now=utcnow(),
            rule=opts["rule"],
            limit=opts["limit"],
            sample=max(0, opts["sample"]),
        )
        if opts["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        from flowdesk.automation.textreport import backtest_lines

        for line in backtest_lines(result):
            self.stdout.write(line)

    def do_dry_run(self, opts: dict[str, Any]) -> None:
        ticket = None
        snapshot = None
        if opts["ticket"] is not None:
            ticket = Ticket.objects.filter(pk=opts["ticket"]).first()
            if ticket is None:
                raise CommandError(f"ticket {opts['ticket']} not found")
        else:
            snapshot = self._json(Path(opts["snapshot"]).read_text(encoding="utf-8"), "--snapshot")
        yaml_text = _read(opts["rules"])[0] if opts["rules"] else None
        event = self._json(opts["event"], "--event") if opts["event"] else None
        result = dry_run(
            ticket=ticket, snapshot=snapshot, event=event, yaml_text=yaml_text, definition=None
        )
        if not opts["full"]:
            result = summarise(result)
        if opts["json"]:
            self.stdout.write(json.dumps(result, indent=2, default=str))
        else:
            self._print_explanation(result)

    def do_explain(self, opts: dict[str, Any]) -> None:
        qs = TicketUpdate.objects.filter(ticket_id=opts["ticket"], ruleset_version__isnull=False)
        update = (
            qs.filter(pk=opts["update"]).first() if opts["update"] else qs.order_by("-id").first()
        )
        if update is None:
            raise CommandError(f"ticket {opts['ticket']}: no update evaluated by rules")
        result = explain_update(update, full=opts["full"])
        if opts["json"]:
            self.stdout.write(json.dumps(result, indent=2, default=str))
        else:
            self.stdout.write(
                f"ticket #{opts['ticket']} update {update.pk} "
                f"(rule set v{update.ruleset_version}, {update.created_at:%Y-%m-%d %H:%M:%S})"
            )
            self._print_explanation(result)

    def _json(self, text: str, what: str) -> Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"{what}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from exc

    def _print_explanation(self, result: dict[str, Any]) -> None:
        from flowdesk.automation.textreport import explanation_lines

        for line in explanation_lines(result):
            self.stdout.write(line)
