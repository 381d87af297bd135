"""flowdesk mailbox add|list|remove|test|poll: the mailboxes mail comes in through."""

from __future__ import annotations

import getpass
import json
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowdesk.core.errors import FlowdeskError


class Command(BaseCommand):
    help = "Mailboxes: add, list, remove, test (connect and log in), poll (fetch and process now)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="add a mailbox")
        add.add_argument("name")
        add.add_argument("--kind", choices=["imap", "lmtp"], default="imap")
        add.add_argument("--host", default="")
        add.add_argument("--port", type=int, default=None)
        add.add_argument("--tls", choices=["ssl", "starttls", "none"], default="ssl")
        add.add_argument("--username", default="")
        add.add_argument(
            "--password-env",
            default="",
            help="read the password from this environment variable (else it is asked for)",
        )
        add.add_argument("--folder", default="INBOX")
        add.add_argument("--move-to", default="", help="after import; default: flag \\Seen")
        add.add_argument("--poll-seconds", type=int, default=60)
        add.add_argument("--batch", type=int, default=200)
        add.add_argument("--listen", default="", help="LMTP receiver: host:port")
        add.add_argument("--team", default=None)
        add.add_argument("--calendar", default=None)
        add.add_argument(
            "--address", action="append", default=[], help="an address it receives for (repeat)"
        )
        sub.add_parser("list", help="list the mailboxes").add_argument(
            "--json", action="store_true"
        )
        for name, text in (
            ("remove", "remove a mailbox that has received nothing"),
            ("test", "connect and log in (IMAP), show the folder"),
            ("poll", "fetch what is new (IMAP) and process every stored mail now"),
        ):
            sub.add_parser(name, help=text).add_argument("name")

    def handle(self, *args: Any, **o: Any) -> None:
        try:
            getattr(self, f"_{o['action']}")(o)
        except FlowdeskError as exc:
            raise CommandError(str(exc)) from None

    def _add(self, o: dict[str, Any]) -> None:
        from flowdesk.mail.services import check_create_mailbox

        password = ""
        if o["kind"] == "imap":
            if o["password_env"]:
                password = os.environ.get(o["password_env"], "")
                if not password:
                    raise CommandError(f"the environment variable {o['password_env']} is empty")
            else:
                password = getpass.getpass(f"password of {o['username']}: ")
        mailbox = check_create_mailbox(
            {
                "name": o["name"],
                "kind": o["kind"],
                "host": o["host"],
                "port": o["port"],
                "tls": o["tls"],
                "username": o["username"],
                "password": password,
                "folder": o["folder"],
                "move_to": o["move_to"],
                "poll_seconds": o["poll_seconds"],
                "batch": o["batch"],
                "listen": o["listen"],
                "team": o["team"],
                "calendar": o["calendar"],
                "addresses": o["address"],
            }
        )
        self.stdout.write(f"added mailbox {mailbox.name} ({mailbox.kind})")

    def _list(self, o: dict[str, Any]) -> None:
        from flowdesk.api.mailboxes import mailbox_out
        from flowdesk.mail.models import Mailbox

        items = [mailbox_out(m) for m in Mailbox.objects.select_related("team", "calendar")]
        if o["json"]:
            self.stdout.write(json.dumps(items, default=str, indent=2))
            return
        for m in items:
            where = (
                f"{m['username']}@{m['host']}/{m['folder']}" if m["kind"] == "imap" else m["listen"]
            )
            state = "active" if m["active"] else "inactive"
            counts = " ".join(f"{k}={v}" for k, v in sorted(m["counts"].items())) or "no mail yet"
            self.stdout.write(f"{m['name']}\t{m['kind']}\t{where}\t{state}\t{counts}")
            if m["last_error"]:
                self.stdout.write(f"  last error: {m['last_error']}")

    def _remove(self, o: dict[str, Any]) -> None:
        from flowdesk.mail.services import check_delete_mailbox, mailbox_by_name

        check_delete_mailbox(mailbox_by_name(o["name"]))
        self.stdout.write(f"removed mailbox {o['name']}")

    def _test(self, o: dict[str, Any]) -> None:
        from flowdesk.mail import imap
        from flowdesk.mail.services import mailbox_by_name

        mailbox = mailbox_by_name(o["name"])
        if mailbox.kind != "imap":
            self.stdout.write(f"{mailbox.name} is an LMTP receiver on {mailbox.listen}")
            return
        try:
            client = imap.connect(mailbox)
            status = client.folder.status(mailbox.folder)
            idle = imap.supports_idle(client)
            client.logout()
        except Exception as exc:
            raise CommandError(f"{mailbox.name}: {type(exc).__name__}: {exc}") from None
        self.stdout.write(
            f"{mailbox.name}: logged in; {mailbox.folder}: {status.get('MESSAGES', 0)} mails, "
            f"{status.get('UNSEEN', 0)} unseen; IDLE {'supported' if idle else 'not supported'}"
        )

    def _poll(self, o: dict[str, Any]) -> None:
        from flowdesk.mail import imap, ingest
        from flowdesk.mail.services import mailbox_by_name
        from flowdesk.outbox.runner import worker_id

        mailbox = mailbox_by_name(o["name"])
        fetched = 0
        if mailbox.kind == "imap":
            while True:
                result = imap.poll(mailbox)
                fetched += result.fetched
                if not result.more:
                    break
        done = ingest.process_pending(worker_id("mailbox-poll"))
        self.stdout.write(f"{mailbox.name}: fetched {fetched}, processed {done}")
