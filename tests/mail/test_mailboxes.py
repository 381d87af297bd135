"""Mailboxes through the API, the CLI and the admin; the LMTP receiver; the closed-ticket
policy; the cap on automatic mails; the worker's IMAP loop (IDLE)."""

from __future__ import annotations

import smtplib
import socket
import time
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from mail_helpers import SUPPORT, Imap, mail

from api_helpers import ADMIN, Desk

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tickets(desk: Desk) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = desk.admin.get("/tickets").data["items"]
    return sorted(items, key=lambda t: t["id"])


def test_api_validates_every_field_by_name_and_never_shows_the_password(desk: Desk) -> None:
    r = desk.admin.post("/mailboxes", {"name": "x y", "kind": "imap", "addresses": ["nope"]})
    assert r.status == 422, r
    fields = {e["field"] for e in r.data["errors"]}
    assert {"name", "host", "username", "password", "addresses[0]"} <= fields
    r = desk.admin.post("/mailboxes", {"name": "s", "kind": "pop3", "addresses": [SUPPORT]})
    assert r.status == 422
    assert r.data["errors"][0]["field"] == "kind"
    for listen in ("127.0.0.1:99999", "127.0.0.1:0", "nowhere"):
        lmtp = {"name": "in", "kind": "lmtp", "listen": listen, "addresses": [SUPPORT]}
        r = desk.admin.post("/mailboxes", lmtp)
        assert r.status == 422, (listen, r)
        assert [e["field"] for e in r.data["errors"]] == ["listen"]
    body = {
        "name": "support",
        "kind": "imap",
        "host": "imap.desk.test",
        "username": "support",
        "password": "pw",
        "addresses": [SUPPORT],
        "team": "Nope",
    }
    r = desk.admin.post("/mailboxes", body)
    assert r.status == 422
    assert r.data["errors"] == [{"field": "team", "message": "no team named 'Nope'"}]
    r = desk.admin.post("/mailboxes", {**body, "team": "Tier 1"})
    assert r.status == 201, r
    assert "password" not in r.data
    assert r.data["has_password"] is True
    assert desk.agent.get("/mailboxes").status == 403
    r = desk.admin.patch("/mailboxes/support", {"poll_seconds": 0})
    assert r.status == 422
    assert r.data["errors"][0]["field"] == "poll_seconds"
    r = desk.admin.patch("/mailboxes/support", {"move_to": "Archive"})
    assert (r.status, r.data["move_to"]) == (200, "Archive")
    assert desk.admin.call("DELETE", "/mailboxes/support").status == 204
    assert desk.admin.get("/mailboxes/support").status == 404


def test_cli_add_list_test_poll_remove(
    desk: Desk, dovecot: Any, imap: Imap, monkeypatch: Any
) -> None:
    monkeypatch.setenv("IMAP_PW", dovecot.password)
    out = StringIO()
    call_command(
        "mailbox",
        "add",
        "support",
        "--host",
        dovecot.host,
        "--port",
        str(dovecot.port),
        "--tls",
        "none",
        "--username",
        dovecot.user,
        "--password-env",
        "IMAP_PW",
        "--address",
        SUPPORT,
        stdout=out,
    )
    call_command("mailbox", "test", "support", stdout=out)
    assert "logged in" in out.getvalue()
    assert "IDLE supported" in out.getvalue()
    imap.append(mail())
    call_command("mailbox", "poll", "support", stdout=out)
    assert "fetched 1, processed 1" in out.getvalue()
    call_command("mailbox", "list", stdout=out)
    assert "parsed=1" in out.getvalue()
    with pytest.raises(CommandError, match="deactivate"):
        call_command("mailbox", "remove", "support")
    with pytest.raises(CommandError, match="no mailbox named"):
        call_command("mailbox", "poll", "nope")


def test_the_admin_lists_and_adds_mailboxes(desk: Desk) -> None:
    from flowdesk.accounts.models import User
    from flowdesk.mail.models import Mailbox

    c = Client()
    c.force_login(User.objects.get(email=ADMIN))
    assert c.get("/studio/admin/mail/mailbox/").status_code == 200
    r = c.post(
        "/studio/admin/mail/mailbox/add/",
        {
            "name": "inbound",
            "kind": "lmtp",
            "tls": "none",
            "listen": "127.0.0.1:2525",
            "folder": "INBOX",
            "poll_seconds": 60,
            "batch": 200,
            "addresses": '["help@desk.test"]',
            "active": "on",
        },
    )
    assert r.status_code == 302, r.content[:2000]
    assert Mailbox.objects.get(name="inbound").addresses == ["help@desk.test"]


def test_an_lmtp_receiver_stores_before_it_answers_and_the_mail_becomes_a_ticket(
    desk: Desk,
) -> None:
    from flowdesk.mail.ingest import process_pending
    from flowdesk.mail.lmtp import Receiver
    from flowdesk.mail.models import InboundMail
    from flowdesk.mail.services import check_create_mailbox

    port = _free_port()
    box = check_create_mailbox(
        {"name": "lmtp", "kind": "lmtp", "listen": f"127.0.0.1:{port}", "addresses": [SUPPORT]}
    )
    receiver = Receiver(box, lmtp=False).start()  # SMTP: smtplib can speak it
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail("cora@acme.test", [SUPPORT], mail())
        assert InboundMail.objects.count() == 1  # committed before the 250
    finally:
        receiver.stop()
    assert process_pending("test") == 1
    [ticket] = _tickets(desk)
    assert ticket["subject"] == "The printer is on fire"


def test_a_reply_to_a_closed_ticket_reopens_it_within_the_window_else_starts_a_new_one(
    desk: Desk, mailbox: Any, imap: Imap, settings: Any
) -> None:
    from flowdesk.core.clock import utcnow
    from flowdesk.mail.ingest import process_pending

    imap.append(mail(message_id="<root@client.test>"))
    call_command("mailbox", "poll", "support", verbosity=0)
    [ticket] = _tickets(desk)
    r = desk.agent.patch(f"/tickets/{ticket['id']}", {"status": "closed"})
    assert r.status == 200, r
    imap.append(mail(body="Again", in_reply_to="<root@client.test>"))
    call_command("mailbox", "poll", "support", verbosity=0)
    assert desk.admin.get(f"/tickets/{ticket['id']}").data["status"] == "open"

    desk.agent.patch(f"/tickets/{ticket['id']}", {"status": "closed"})
    imap.append(mail(body="Much later", in_reply_to="<root@client.test>"))
    from flowdesk.mail import imap as intake
    from flowdesk.mail.models import Mailbox

    intake.poll(Mailbox.objects.get(name="support"))
    process_pending(
        "test", now=utcnow() + timedelta(days=settings.FLOWDESK["MAIL_REOPEN_DAYS"] + 1)
    )
    old, new = _tickets(desk)
    assert old["status"] == "closed"
    notes = [m["body"] for m in desk.admin.get(f"/tickets/{new['id']}/messages").data]
    assert notes == ["Much later", f"Follow-up of closed ticket #{old['id']}."]


def test_automatic_mails_are_capped_per_recipient(
    desk: Desk, mailbox: Any, imap: Imap, smtp: Any, settings: Any
) -> None:
    settings.FLOWDESK = {**settings.FLOWDESK, "MAIL_AUTO_REPLIES_PER_HOUR": 2}
    rules = (
        "version: 1\nrules:\n  - name: ack\n    triggers: [created]\n"
        '    actions:\n      - {type: reply, body: "Got it."}\n'
    )
    assert desk.admin.post("/rules", {"yaml": rules}).status == 201
    for n in range(4):
        imap.append(mail(subject=f"request {n}"))
    call_command("mailbox", "poll", "support", verbosity=0)
    call_command("worker", batch=True, verbosity=0)
    assert len(_tickets(desk)) == 4
    assert len(smtp.received) == 2


def test_the_worker_loop_picks_up_new_mail_with_idle(desk: Desk, mailbox: Any, imap: Imap) -> None:
    from flowdesk.mail.models import Mailbox
    from flowdesk.mail.runner import MailRunner

    Mailbox.objects.filter(name="support").update(poll_seconds=30)
    runner = MailRunner("test-worker").start()
    try:
        time.sleep(0.5)  # connected and idling
        imap.append(mail(subject="while idling"))
        deadline = time.monotonic() + 15
        while not _tickets(desk) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        runner.stop()
    assert [t["subject"] for t in _tickets(desk)] == ["while idling"]
