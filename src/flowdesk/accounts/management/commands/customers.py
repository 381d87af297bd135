"""`flowdesk customers merge SOURCE INTO | unmerge SOURCE | identities CUSTOMER`.

Customers are named by id or by any of their e-mail addresses (docs/customers.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from flowdesk.accounts.identities import customer_for_identity
from flowdesk.accounts.merge import check_merge_customers, check_unmerge_customer
from flowdesk.accounts.models import Role, User
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FlowdeskError


def customer_id(text: str) -> int:
    if text.isdigit():
        return int(text)
    user = User.objects.filter(email=text.strip().lower(), role=Role.CUSTOMER).first()
    if user is None:
        user, _ = customer_for_identity("email", text)
    if user is None:
        raise CommandError(f"no customer with id or e-mail {text!r}")
    return user.pk


class Command(BaseCommand):
    help = "Merge and unmerge customers, and list a customer's identities."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        m = sub.add_parser("merge", help="merge SOURCE into INTO (the survivor); undoable")
        m.add_argument("source")
        m.add_argument("into")
        sub.add_parser("unmerge", help="undo SOURCE's merge exactly").add_argument("source")
        sub.add_parser("identities", help="kind, value, verified, primary").add_argument("customer")

    def handle(self, *args: Any, **opts: Any) -> None:
        action = opts["action"]
        try:
            if action == "merge":
                source, into = customer_id(opts["source"]), customer_id(opts["into"])
                merge = check_merge_customers(source, into, actor=None, now=utcnow())
                moved = merge.moved
                self.stdout.write(
                    f"merged customer {source} into {into} (merge {merge.pk}): "
                    f"{len(moved['tickets'])} ticket(s), {len(moved['identities'])} identities "
                    f"moved; undo with `flowdesk customers unmerge {source}`"
                )
            elif action == "unmerge":
                source = customer_id(opts["source"])
                merge = check_unmerge_customer(source, actor=None, now=utcnow())
                self.stdout.write(f"unmerged customer {source} from {merge.target_id}")
            else:
                user = User.objects.filter(pk=customer_id(opts["customer"])).first()
                if user is None:
                    raise CommandError(f"no customer {opts['customer']}")
                if user.merged_into_id is not None:
                    self.stdout.write(f"customer {user.pk} is merged into {user.merged_into_id}")
                for i in user.identities.all():
                    flags = " ".join(
                        f for f, on in (("verified", i.verified), ("primary", i.primary)) if on
                    )
                    self.stdout.write(f"{i.pk}\t{i.kind}\t{i.value}\t{flags}".rstrip())
        except FlowdeskError as exc:
            raise CommandError(str(exc)) from exc
