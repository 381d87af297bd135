"""The issue's cross-channel scenario end to end, against a real Dovecot and a real SMTP sink, on
both databases: a customer mails support, an agent answers from the workspace, the customer
answers from another client (a real Outlook reply in German, quoting the thread) and it lands on
the same ticket with the quote split off; the same mail fetched twice is one message; an
out-of-office answer starts no loop; a bounce marks the address on the customer; then the
customer opens a chat on the company's website as the same verified user, and the agent sees
the mail ticket beside the chat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from mail_helpers import SUPPORT, Imap, mail

from api_helpers import Desk

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

#: A real Outlook reply from the shared fixture set, kept here with its licence (MIT).
OUTLOOK_DE = Path(__file__).resolve().parent / "fixtures_parse" / "crisp-email-reply-parser"


def _outlook_reply() -> str:
    return (OUTLOOK_DE / "email_german_outlook.txt").read_text(encoding="utf-8")


def _poll() -> None:
    call_command("mailbox", "poll", "support", verbosity=0)


def _work() -> None:
    call_command("worker", batch=True, verbosity=0)


def _web_agent() -> Any:
    from django.test import Client

    from flowdesk.accounts.models import User

    client = Client()
    client.force_login(User.objects.get(email="alice@desk.test"))
    return client


def test_mail_workspace_reply_quoted_answer_duplicate_ooo_and_bounce(
    desk: Desk, mailbox: Any, imap: Imap, smtp: Any
) -> None:
    from flowdesk.mail.models import InboundMail

    # 1. The customer mails support; it becomes a ticket of the mailbox's team.
    first = mail(message_id="<q1@thunderbird.test>", subject="Rechnung doppelt abgebucht")
    imap.append(first)
    _poll()
    [ticket] = desk.admin.get("/tickets").data["items"]
    tid = ticket["id"]
    assert (ticket["channel"], ticket["team"]) == ("email", "Tier 1")

    # 2. An agent opens it in the workspace and answers from the reply box.
    agent = _web_agent()
    page = agent.get(f"/agent/tickets/{tid}")
    assert page.status_code == 200
    assert "Rechnung doppelt abgebucht" in page.content.decode()
    sent_reply = agent.post(
        f"/agent/tickets/{tid}/messages", {"body": "Wir erstatten den Betrag.", "kind": "reply"}
    )
    assert sent_reply.status_code == 302
    _work()
    [out] = smtp.received
    assert out["To"].endswith("cora@acme.test") or "cora@acme.test" in out["To"]
    assert out["In-Reply-To"] == "<q1@thunderbird.test>"
    assert f"[#{tid}]" in out["Subject"]

    # 3. The customer answers from Outlook (a real captured German reply quoting the thread).
    outlook = _outlook_reply()
    answer = mail(
        message_id="<q2@outlook.test>",
        subject=f"AW: {out['Subject']}",
        body=outlook,
        in_reply_to=out["Message-ID"],
        references=f"<q1@thunderbird.test> {out['Message-ID']}",
        headers={"X-Mailer": "Microsoft Outlook 16.0"},
    )
    imap.append(answer)
    # 4. ... and the same mail arrives twice (a client that re-sent it, a second fetch).
    imap.append(answer)
    _poll()
    _poll()  # a second poll of the same folder stores nothing new
    assert [t["id"] for t in desk.admin.get("/tickets").data["items"]] == [tid]
    public = [m for m in desk.admin.get(f"/tickets/{tid}/messages").data if m["public"]]
    assert len(public) == 3  # request, agent reply, customer answer: the duplicate is not one
    body = public[-1]["body"]
    assert body.startswith("Fusce bibendum")
    assert "Ursprüngliche Nachricht" not in body  # the quote is split off ...
    assert "original message content" not in body
    stored = InboundMail.objects.filter(message_id="q2@outlook.test")
    assert sorted(stored.values_list("status", flat=True)) == ["duplicate", "parsed"]
    # ... but kept: the workspace shows it folded under the answer.
    shown = agent.get(f"/agent/tickets/{tid}").content.decode()
    assert "Ursprüngliche Nachricht" in shown

    # 5. An out-of-office reply to our mail: kept as a note, answered by nothing.
    rules = "version: 1\nrules:\n  - name: ack\n    triggers: [customer_replied]\n"
    rules += '    actions:\n      - {type: reply, body: "Danke, wir melden uns."}\n'
    assert desk.admin.post("/rules", {"yaml": rules}).status == 201
    imap.append(
        mail(
            message_id="<ooo@outlook.test>",
            subject=f"Abwesenheitsnotiz: {out['Subject']}",
            body="Ich bin bis Montag nicht im Büro.",
            in_reply_to=out["Message-ID"],
            headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
        )
    )
    _poll()
    _work()
    assert len(smtp.received) == 1  # no rule reply to the auto-reply, so no loop
    notes = [m for m in desk.admin.get(f"/tickets/{tid}/messages").data if not m["public"]]
    assert any("nicht im Büro" in n["body"] for n in notes)

    # 6. A bounce of our reply marks the customer's address; no ticket is opened for it.
    dsn = (
        "From: MAILER-DAEMON@mx.acme.test\r\n"
        f"To: {SUPPORT}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn@mx.acme.test>\r\nMIME-Version: 1.0\r\n"
        f"References: {out['Message-ID']}\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.acme.test\r\n\r\n"
        "Final-Recipient: rfc822; cora@acme.test\r\nAction: failed\r\nStatus: 5.2.2\r\n"
        "--b--\r\n"
    ).encode()
    imap.append(dsn)
    _poll()
    assert [t["id"] for t in desk.admin.get("/tickets").data["items"]] == [tid]
    customer = ticket["requester"]["id"]
    identities = desk.agent.get(f"/customers/{customer}/identities").data
    [email] = [i for i in identities if i["value"] == "cora@acme.test"]
    assert email["bounce_count"] == 1
    assert "bounced" in agent.get(f"/agent/customers/{customer}").content.decode()

    # 7. The customer then chats from the website, signed in there: the site vouches for its
    #    user id with the HMAC, so the chat is hers, and the agent sees the mail ticket beside it.
    import hashlib
    import hmac
    import json

    from django.test import Client

    from flowdesk.accounts.identities import check_add_identity
    from flowdesk.accounts.models import User
    from flowdesk.chat.sites import check_create_site

    cora = User.objects.get(pk=customer)
    check_add_identity(cora, kind="site_user", value="shop-user-17", verified=True)
    site = check_create_site(
        {"name": "shop", "allowed_origins": ["https://shop.test"], "team": "Tier 1"}
    )
    proof = hmac.new(site.identity_secret.encode(), b"shop-user-17", hashlib.sha256).hexdigest()
    started = Client().post(
        f"/chat/v1/{site.public_key}/conversations",
        data=json.dumps(
            {"user_id": "shop-user-17", "identifier_hash": proof, "message": "Und die Gutschrift?"}
        ),
        content_type="application/json",
        headers={"Origin": "https://shop.test"},
    )
    assert started.status_code == 201, started.content
    chat_ticket = started.json()["ticket_id"]
    chat = desk.agent.get(f"/tickets/{chat_ticket}").data
    assert (chat["channel"], chat["requester"]["id"]) == ("chat", customer)
    from flowdesk.chat.models import ChatConversation

    conversation = ChatConversation.objects.get(ticket_id=chat_ticket)
    console = agent.get(f"/agent/chats/{conversation.pk}").content.decode()
    assert "Und die Gutschrift?" in console
    assert f"#{tid} Rechnung doppelt abgebucht" in console  # the mail ticket beside the chat
    sidebar = agent.get(f"/agent/tickets/{tid}").content.decode()
    assert f"#{chat_ticket} " in sidebar  # and the chat beside the mail ticket
