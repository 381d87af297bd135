"""Mail in and out through real servers: Dovecot (IMAP) in, an SMTP sink out, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from mail_helpers import SUPPORT, Imap, add_mailbox, mail

from api_helpers import Desk

pytestmark = pytest.mark.django_db(transaction=True)


def poll(name: str = "support") -> None:
    call_command("mailbox", "poll", name, verbosity=0)


def work() -> None:
    call_command("worker", batch=True, verbosity=0)


def tickets(desk: Desk) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = desk.admin.get("/tickets").data["items"]
    return sorted(items, key=lambda t: t["id"])


def messages(desk: Desk, ticket_id: int) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = desk.admin.get(f"/tickets/{ticket_id}/messages").data
    return data


def test_a_conversation_by_mail(desk: Desk, mailbox: Any, imap: Imap, smtp: Any) -> None:
    imap.append(mail(message_id="<first@client.test>"))
    poll()
    [ticket] = tickets(desk)
    assert ticket["subject"] == "The printer is on fire"
    assert ticket["channel"] == "email"
    assert ticket["team"] == "Tier 1"
    assert imap.count(criteria="UNSEEN") == 0  # flagged \Seen after it was stored

    r = desk.agent.post(f"/tickets/{ticket['id']}/messages", {"body": "Unplug it.\n\nAlice"})
    assert r.status == 201, r
    work()
    [sent] = smtp.received
    token = f"[#{ticket['id']}]"
    assert token in sent["Subject"]
    assert sent["Reply-To"] == SUPPORT
    assert sent["In-Reply-To"] == "<first@client.test>"
    assert "<first@client.test>" in sent["References"]
    assert sent["Message-ID"].strip().startswith(f"<fd.{ticket['id']}.")
    assert sent.get_content_type() == "multipart/alternative"
    assert sent.get_body(("plain",)).get_content().startswith("Unplug it.")
    assert "<p>Unplug it.</p>" in sent.get_body(("html",)).get_content()
    assert "Auto-Submitted" not in sent  # a person wrote it

    # The customer answers from another client, quoting the thread.
    imap.append(
        mail(
            subject=f"Re: {sent['Subject']}",
            body="It works now.\n\n> Unplug it.",
            in_reply_to=sent["Message-ID"],
            references=f"<first@client.test> {sent['Message-ID']}",
        )
    )
    # Only the subject token, from the requester: the same ticket; from a stranger: a new one.
    imap.append(mail(subject=f"one more thing {token}", body="And the toner?"))
    imap.append(mail(sender="mallory@evil.test", subject=f"hijack {token}", body="Mine now"))
    # A forged id of ours names the ticket but does not verify.
    forged = f"<fd.{ticket['id']}.0123456789ab.0123456789abcdef0123@flowdesk.localhost>"
    imap.append(mail(sender="mallory@evil.test", subject="hi", in_reply_to=forged, body="x"))
    poll()
    bodies = [m["body"] for m in messages(desk, ticket["id"])]
    assert bodies[2:] == ["It works now.", "And the toner?"]  # the quote is split off
    others = tickets(desk)[1:]
    assert [t["subject"] for t in others] == [f"hijack {token}", "hi"]
    # The sent reply's Message-ID and headers are stored with its message.
    from flowdesk.mail.models import MailMessage

    out = MailMessage.objects.get(direction="out")
    assert f"<{out.message_id}>" == sent["Message-ID"].strip()
    assert out.headers["Reply-To"] == SUPPORT


def test_the_same_mail_twice_is_one_message_another_reusing_its_id_is_kept(
    desk: Desk, mailbox: Any, imap: Imap
) -> None:
    raw = mail(message_id="<same@client.test>")
    imap.append(raw)
    imap.append(raw)
    imap.append(mail(message_id="<same@client.test>", body="A different mail, same id"))
    poll()
    all_tickets = tickets(desk)
    assert len(all_tickets) == 2
    r = desk.admin.get("/mailboxes/inbound", status="duplicate")
    assert r.data["count"] == 1


def test_an_out_of_office_reply_is_kept_and_answered_by_nothing(
    desk: Desk, mailbox: Any, imap: Imap, smtp: Any
) -> None:
    rules = """
version: 1
rules:
  - name: acknowledge
    triggers: [created]
    actions:
      - {type: reply, body: "We got your mail."}
"""
    r = desk.admin.post("/rules", {"yaml": rules})
    assert r.status == 201, r
    imap.append(mail())
    poll()
    work()
    [ack] = smtp.received
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Loop"]
    # The customer's out-of-office answers the acknowledgement...
    imap.append(
        mail(
            subject=f"Out of office: {ack['Subject']}",
            body="I am away until Monday.",
            in_reply_to=ack["Message-ID"],
            headers={"Auto-Submitted": "auto-replied"},
        )
    )
    # ... and an out-of-office that starts a conversation of its own starts none.
    imap.append(mail(subject="Out of office", headers={"Auto-Submitted": "auto-replied"}))
    poll()
    work()
    assert len(smtp.received) == 1  # no loop
    [ticket] = tickets(desk)
    notes = [m for m in messages(desk, ticket["id"]) if not m["public"]]
    assert "I am away until Monday." in notes[0]["body"]


def test_a_bounce_marks_the_address_and_opens_no_ticket(
    desk: Desk, mailbox: Any, imap: Imap, smtp: Any
) -> None:
    from flowdesk.mail.models import Bounce

    imap.append(mail())
    poll()
    [ticket] = tickets(desk)
    desk.agent.post(f"/tickets/{ticket['id']}/messages", {"body": "Unplug it."})
    work()
    [sent] = smtp.received
    dsn = (
        "From: MAILER-DAEMON@mx.acme.test\r\n"
        f"To: {SUPPORT}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn1@mx.acme.test>\r\nMIME-Version: 1.0\r\n"
        f"References: {sent['Message-ID']}\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.acme.test\r\n\r\n"
        "Final-Recipient: rfc822; cora@acme.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--b--\r\n"
    ).encode()
    imap.append(dsn)
    poll()
    assert len(tickets(desk)) == 1
    [bounce] = Bounce.objects.all()
    assert (bounce.address, bounce.ticket_id) == ("cora@acme.test", ticket["id"])
    notes = [m for m in messages(desk, ticket["id"]) if not m["public"]]
    assert "cora@acme.test" in notes[-1]["body"]
    # Recorded against the customer's identity: the API and the customer page show it.
    customer = ticket["requester"]["id"]
    [email] = [
        i
        for i in desk.agent.get(f"/customers/{customer}/identities").data
        if i["value"] == "cora@acme.test"
    ]
    assert email["bounce_count"] == 1
    assert email["bounced_at"] is not None


def test_an_unparsable_mail_is_parked_visible_and_retried(
    desk: Desk, mailbox: Any, imap: Imap, monkeypatch: Any
) -> None:
    from flowdesk.mail import ingest

    def broken(raw: bytes, **options: Any) -> Any:
        raise ValueError("cannot read this mail")

    monkeypatch.setattr(ingest, "parse", broken)
    imap.append(mail())
    poll()
    assert tickets(desk) == []
    parked = desk.admin.get("/mailboxes/inbound", status="parked").data
    assert parked["count"] == 1
    item = parked["items"][0]
    assert "cannot read this mail" in item["error"]
    assert item["attempts"] == 1
    monkeypatch.undo()
    r = desk.admin.post(f"/mailboxes/inbound/{item['id']}/retry")
    assert r.status == 200, r
    poll()
    assert len(tickets(desk)) == 1
    assert desk.admin.get("/mailboxes/inbound", status="parked").data["count"] == 0


def test_a_dropped_connection_mid_batch_loses_and_duplicates_nothing(
    desk: Desk, mailbox: Any, imap: Imap, monkeypatch: Any
) -> None:
    from flowdesk.mail import imap as imap_intake

    for n in range(5):
        imap.append(mail(subject=f"mail {n}", message_id=f"<m{n}@client.test>"))
    real_ack = imap_intake._server_ack

    def drop(client: Any, mailbox: Any) -> None:
        client.client.shutdown()  # the server is gone after the mails were stored
        raise OSError("connection reset")

    monkeypatch.setattr(imap_intake, "_server_ack", drop)
    with pytest.raises(OSError, match="connection reset"):
        poll()
    monkeypatch.setattr(imap_intake, "_server_ack", real_ack)
    imap.append(mail(subject="mail 5", message_id="<m5@client.test>"))
    poll()
    assert [t["subject"] for t in tickets(desk)] == [f"mail {n}" for n in range(6)]
    assert imap.count(criteria="UNSEEN") == 0  # the first batch was flagged on the next poll


def test_a_uidvalidity_change_resyncs_without_duplicates(
    desk: Desk, dovecot: Any, imap: Imap
) -> None:
    imap.box.folder.create("Support")
    add_mailbox(desk, dovecot, folder="Support", move_to="Archive")
    first, second = mail(message_id="<a@client.test>"), mail(message_id="<b@client.test>")
    imap.append(first, "Support")
    poll()
    assert imap.count("Archive") == 1  # moved after it was stored
    before = desk.admin.get("/mailboxes/support").data["uidvalidity"]
    # The folder is recreated (a restore): new UIDVALIDITY, old mails back with new UIDs.
    imap.box.folder.set("INBOX")
    imap.box.folder.delete("Support")
    imap.box.folder.create("Support")
    imap.append(first, "Support")
    imap.append(second, "Support")
    poll()
    after = desk.admin.get("/mailboxes/support").data
    assert after["uidvalidity"] != before
    assert len(tickets(desk)) == 2  # the first mail once, the second new
    assert after["counts"] == {"parsed": 2, "duplicate": 1}
