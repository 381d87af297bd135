"""Batches of stored mails: one transaction per claimed batch, a savepoint per mail."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from mail_helpers import SUPPORT, mail

from api_helpers import Desk

pytestmark = pytest.mark.django_db(transaction=True)


def inbound(desk: Desk) -> Any:
    from flowdesk.mail.models import Mailbox

    r = desk.admin.post(
        "/mailboxes",
        {"name": "inbound", "kind": "lmtp", "listen": "127.0.0.1:2599", "addresses": [SUPPORT]},
    )
    assert r.status == 201, r
    return Mailbox.objects.get(name="inbound")


def test_a_mail_failing_in_a_batch_is_parked_alone_and_retried(
    desk: Desk, monkeypatch: Any
) -> None:
    from flowdesk.core.clock import utcnow
    from flowdesk.mail import ingest
    from flowdesk.mail.models import InboundMail, MailMessage
    from flowdesk.tickets.models import Ticket

    box = inbound(desk)
    raws = [
        mail(subject="first", message_id="<1@client.test>"),
        b"this is no mail at all",
        mail(subject="boom", message_id="<2@client.test>"),
        mail(subject="Re: first", message_id="<3@client.test>", in_reply_to="<1@client.test>"),
    ]
    assert ingest.store(box, [(None, raw) for raw in raws]) == 4
    original = ingest._new_ticket

    def fail_on_boom(*args: Any, **kwargs: Any) -> Any:
        ticket = original(*args, **kwargs)  # the ticket is written, then the mail fails
        if Ticket.objects.get(pk=ticket.pk).subject == "boom":
            raise RuntimeError("the database refused boom")
        return ticket

    monkeypatch.setattr(ingest, "_new_ticket", fail_on_boom)
    statements: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert ingest.process_pending("w1") == 4
    by_subject = {
        bytes(row.raw).split(b"Subject: ")[-1].split(b"\n")[0].strip(): row
        for row in InboundMail.objects.order_by("id")
        if b"Subject: " in bytes(row.raw)
    }
    assert by_subject[b"first"].status == "parsed"
    assert by_subject[b"Re: first"].status == "parsed"
    assert by_subject[b"Re: first"].ticket_id == by_subject[b"first"].ticket_id
    boom = by_subject[b"boom"]
    assert (boom.status, boom.attempts, boom.ticket_id) == ("parked", 1, None)
    assert "the database refused boom" in boom.error
    no_mail = InboundMail.objects.exclude(pk__in=[r.pk for r in by_subject.values()]).get()
    assert no_mail.status == "parked"
    assert no_mail.error.startswith("parse: ")
    # The ticket the failing mail had created is rolled back with its savepoint, nothing else.
    assert list(Ticket.objects.values_list("subject", flat=True)) == ["first"]
    assert MailMessage.objects.filter(direction="in").count() == 2
    # One write transaction for the whole batch (and one per claim: two claims ran).
    assert sum(1 for s in statements if s.upper().startswith("BEGIN")) <= 3

    monkeypatch.undo()
    later = utcnow() + ingest.timedelta(minutes=5)
    assert ingest.process_pending("w1", now=later) == 2  # both parked mails are due again
    boom.refresh_from_db()
    assert (boom.status, boom.attempts) == ("parsed", 2)
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["boom", "first"]
    no_mail.refresh_from_db()
    assert (no_mail.status, no_mail.attempts) == ("parked", 2)


def test_two_workers_never_process_one_mail_twice(desk: Desk) -> None:
    from flowdesk.mail import ingest
    from flowdesk.mail.models import InboundMail, MailMessage

    box = inbound(desk)
    raws = [mail(subject=f"q{n}", message_id=f"<{n}@client.test>") for n in range(24)]
    raws += [
        mail(subject="Re", message_id=f"<r{n}@client.test>", in_reply_to=f"<{n}@client.test>")
        for n in range(0, 24, 3)
    ]
    ingest.store(box, [(None, raw) for raw in raws])
    done: dict[str, int] = {}
    errors: list[BaseException] = []

    def work(owner: str) -> None:
        try:
            done[owner] = ingest.process_pending(owner)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(done.values()) == len(raws)
    rows = list(InboundMail.objects.values_list("status", "attempts"))
    assert rows == [("parsed", 1)] * len(raws)
    assert MailMessage.objects.filter(direction="in").count() == len(raws)
    first = dict(MailMessage.objects.values_list("message_id", "ticket_id"))
    for n in range(0, 24, 3):
        assert first[f"r{n}@client.test"] == first[f"{n}@client.test"]


def test_claims_of_two_workers_are_disjoint(desk: Desk) -> None:
    from flowdesk.core.clock import utcnow
    from flowdesk.mail import ingest

    box = inbound(desk)
    ingest.store(box, [(None, mail(message_id=f"<{n}@client.test>")) for n in range(6)])
    now = utcnow()
    a = ingest.claim("a", now, 4)
    b = ingest.claim("b", now, 4)
    assert (len(a), len(b)) == (4, 2)
    assert not set(a) & set(b)


def test_the_batch_read_of_senders_agrees_with_the_one_by_one_lookup(desk: Desk) -> None:
    from flowdesk.accounts.identities import customer_for_address, customers_for_addresses
    from flowdesk.accounts.models import Role
    from flowdesk.accounts.services import do_create_user

    do_create_user("dora@acme.test", name="Dora", role=Role.CUSTOMER)
    given = ["Dora@Acme.test", "dora@acme.test", desk.customer_email, "nobody@acme.test", "x"]
    found = customers_for_addresses(given)
    assert set(found) == {"Dora@Acme.test", "dora@acme.test", desk.customer_email}
    for address in given:
        user, verified = customer_for_address(address)
        assert found.get(address, (None, False)) == (user, verified)


@pytest.mark.parametrize("batched", [True, False])
def test_a_mail_from_an_address_held_only_unverified_gets_its_own_customer(
    desk: Desk, batched: bool
) -> None:
    from flowdesk.accounts.identities import check_add_identity
    from flowdesk.accounts.models import MergeSuggestion, Role, User
    from flowdesk.accounts.services import do_create_user
    from flowdesk.mail import ingest
    from flowdesk.mail.models import InboundMail
    from flowdesk.tickets.models import Ticket

    dora = do_create_user("dora@acme.test", name="Dora", role=Role.CUSTOMER)
    check_add_identity(dora, kind="email", value="shared@home.test", verified=False)
    box = inbound(desk)
    ingest.store(box, [(None, mail(sender="shared@home.test", message_id="<u1@client.test>"))])
    row = InboundMail.objects.get()
    if batched:
        assert ingest.process_pending("w1") == 1
    else:
        assert ingest.process_one(row) == "parsed"
    ticket = Ticket.objects.get()
    assert ticket.requester_id != dora.pk
    sender = User.objects.get(pk=ticket.requester_id)
    assert sender.email == "shared@home.test"
    assert sender.role == Role.CUSTOMER
    assert sender.identities.get(value="shared@home.test").verified
    pair = sorted((dora.pk, sender.pk))
    assert MergeSuggestion.objects.filter(first_id=pair[0], second_id=pair[1]).exists()
    # The next mail from that address attaches to the sender's own record.
    ingest.store(box, [(None, mail(sender="shared@home.test", message_id="<u2@client.test>"))])
    assert ingest.process_pending("w1") == 1
    assert set(Ticket.objects.values_list("requester_id", flat=True)) == {sender.pk}


ANSWERING_RULES = """
version: 1
rules:
  - name: answer-every-mail
    triggers: [created, updated]
    actions:
      - {type: reply, body: "Thanks, we read it."}
"""


def test_the_stored_mail_links_to_its_own_message_not_the_rules_reply(desk: Desk) -> None:
    """A rule answers in the same update as the mail (a message after the mail's): the mail
    record points at the customer's message, for a new ticket and for a reply."""
    from flowdesk.mail import ingest
    from flowdesk.mail.models import InboundMail, MailMessage

    assert desk.admin.post("/rules", {"yaml": ANSWERING_RULES}).status == 201
    box = inbound(desk)
    raws = [
        mail(subject="first", message_id="<a1@client.test>", body="The first mail."),
        mail(
            subject="Re: first",
            message_id="<a2@client.test>",
            in_reply_to="<a1@client.test>",
            body="The second mail.",
        ),
    ]
    ingest.store(box, [(None, raw) for raw in raws])
    assert ingest.process_pending("w1") == 2
    stored = list(MailMessage.objects.filter(direction="in").order_by("id"))
    assert [m.message_id for m in stored] == ["a1@client.test", "a2@client.test"]
    assert stored[0].ticket_id == stored[1].ticket_id
    texts = [(m.ticket_message.author_kind, m.ticket_message.body_text) for m in stored]
    assert texts == [("customer", "The first mail."), ("customer", "The second mail.")]
    rows = list(InboundMail.objects.order_by("id").values_list("ticket_message_id", flat=True))
    assert rows == [m.ticket_message_id for m in stored]
    kinds = list(stored[0].ticket.messages.order_by("id").values_list("author_kind", flat=True))
    assert kinds == ["customer", "system", "customer", "system"]


def test_nul_characters_in_a_mail_do_not_park_it(desk: Desk) -> None:
    """A mail whose subject, body or sender name carries NUL (broken clients, spam) becomes a
    ticket like any other, the NULs dropped (PostgreSQL cannot store them); its raw bytes are
    kept as they came."""
    from flowdesk.mail import ingest
    from flowdesk.mail.models import InboundMail
    from flowdesk.tickets.models import Message, Ticket

    box = inbound(desk)
    raw = (
        b"From: Co\x00ra <cora@acme.test>\r\nTo: " + SUPPORT.encode() + b"\r\n"
        b"Subject: =?utf-8?q?Printer=00_on_fire?=\x00\r\nMessage-ID: <nul@client.test>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nIt smokes\x00 a lot.\r\n"
    )
    assert ingest.store(box, [(None, raw)]) == 1
    assert ingest.process_pending("w1") == 1
    row = InboundMail.objects.get()
    assert (row.status, row.error) == ("parsed", "")
    assert bytes(row.raw) == raw
    ticket = Ticket.objects.get()
    assert ticket.subject == "Printer on fire"
    assert Message.objects.get(ticket=ticket).body_text == "It smokes a lot."
