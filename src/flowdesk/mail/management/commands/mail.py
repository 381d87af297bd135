"""flowdesk mail receive: an LMTP (or SMTP) receiver for one mailbox, in the foreground."""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Mail: `receive` runs an LMTP/SMTP receiver that stores and processes mails."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        receive = sub.add_parser("receive", help="listen for mails (Ctrl-C stops)")
        receive.add_argument("--mailbox", default=None, help="default: the only LMTP mailbox")
        receive.add_argument("--listen", default=None, help="host:port (default: the mailbox's)")
        receive.add_argument("--smtp", action="store_true", help="speak SMTP instead of LMTP")

    def handle(self, *args: Any, **o: Any) -> None:
        from flowdesk.mail import ingest
        from flowdesk.mail.lmtp import Receiver
        from flowdesk.mail.models import Mailbox, MailboxKind
        from flowdesk.outbox.runner import worker_id

        if o["mailbox"]:
            mailbox = Mailbox.objects.filter(name=o["mailbox"]).first()
        else:
            found = list(Mailbox.objects.filter(kind=MailboxKind.LMTP, active=True)[:2])
            mailbox = found[0] if len(found) == 1 else None
        if mailbox is None:
            raise CommandError(
                "name the mailbox (--mailbox NAME); add one with `flowdesk mailbox add NAME "
                "--kind lmtp --listen 127.0.0.1:2525 --address support@example.com`"
            )
        wake = threading.Event()
        receiver = Receiver(mailbox, listen=o["listen"], lmtp=not o["smtp"], on_stored=wake.set)
        receiver.start()
        proto = "SMTP" if o["smtp"] else "LMTP"
        self.stdout.write(f"{proto} receiver of {mailbox.name} on {receiver.host}:{receiver.port}")
        owner = worker_id("mail-receive")
        try:
            while True:
                wake.wait(1.0)
                wake.clear()
                done = ingest.process_pending(owner)
                if done and o["verbosity"]:
                    self.stdout.write(f"processed {done} mail(s)")
        except KeyboardInterrupt:
            pass
        finally:
            receiver.stop()
