"""Rules see where a mail ticket came from: mail through the SMTP/LMTP receiver, processed by the
worker, routed by the demo rules on the sender's domain and a header; the mailbox's calendar
runs the ticket's SLA clocks (both databases)."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from django.core.management import call_command
from mail_helpers import SUPPORT, mail

from api_helpers import Desk

pytestmark = pytest.mark.django_db(transaction=True)

NIGHT = {  # open 20:00-24:00 UTC only: far from any team's hours
    "time_zone": "UTC",
    "weekly": {
        d: [{"start": "20:00", "end": "24:00"}]
        for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    },
}
DAY = {
    "time_zone": "UTC",
    "weekly": {d: [{"start": "08:00", "end": "16:00"}] for d in ("mon", "tue", "wed", "thu")},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def send(desk: Desk) -> Iterator[Any]:
    """An SMTP-speaking receiver of the mailbox ``lmtp`` (Tier 1); ``send(raw)`` hands a mail
    over, then the worker processes it, and the new ticket is returned (through the API)."""
    from flowdesk.mail.lmtp import Receiver
    from flowdesk.mail.models import Mailbox

    port = _free_port()
    body = {"name": "lmtp", "kind": "lmtp", "listen": f"127.0.0.1:{port}", "team": "Tier 1"}
    r = desk.admin.post("/mailboxes", {**body, "addresses": [SUPPORT]})
    assert r.status == 201, r
    receiver = Receiver(Mailbox.objects.get(name="lmtp"), lmtp=False).start()

    def send_one(raw: bytes) -> dict[str, Any]:
        before = {t["id"] for t in desk.admin.get("/tickets").data["items"]}
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            # CRLF: smtplib sends bytes as they are, and the server reads lines
            client.sendmail("someone@example.test", [SUPPORT], raw.replace(b"\n", b"\r\n"))
        call_command("worker", batch=True, verbosity=0)
        [new] = [t for t in desk.admin.get("/tickets").data["items"] if t["id"] not in before]
        return dict(new)

    try:
        yield send_one
    finally:
        receiver.stop()


def test_demo_rules_route_mail_by_sender_domain_and_header(demo_rules: Desk, send: Any) -> None:
    desk = demo_rules
    # (a Content-* header goes on top: EmailMessage.set_content drops those given before it)
    big = send(b"Content-Language: de-CH, en\n" + mail(sender="Ann <Ann@BigCorp.Example>"))
    assert (big["team"], big["priority"]) == ("Tier 2", "high")
    assert big["source"]["mailbox"] == "lmtp"
    assert big["source"]["address"] == "ann@bigcorp.example"
    assert big["source"]["language"] == "de-ch"
    assert big["source"]["headers"]["content-language"] == "de-CH, en"

    flagged = send(mail(sender="zed@small.example", headers={"X-Priority": "1 (Highest)"}))
    assert (flagged["team"], flagged["priority"]) == ("Tier 1", "urgent")
    plain = send(mail(sender="zed@small.example", subject="A question"))
    assert (plain["team"], plain["priority"]) == ("Tier 1", "normal")

    # The explanation (replayed from the stored snapshot) names the deciding conditions.
    r = desk.admin.get(f"/tickets/{plain['id']}/explanation")
    assert r.status == 200, r
    rules = {x["name"]: x for x in r.data["rules"]}
    domain = rules["bigcorp-mail-to-tier-2"]["deciding"]
    assert (domain["field"], domain["actual"]) == ("source.domain", "small.example")
    header = rules["urgent-by-mail-header"]["deciding"]
    assert (header["field"], header["actual"]) == ("source.header.x-priority", None)
    r = desk.admin.get(f"/tickets/{flagged['id']}/explanation")
    fired = [x["name"] for x in r.data["rules"] if x["fired"]]
    assert "urgent-by-mail-header" in fired

    # A dry run over the stored ticket sees the same keys (header names in any case).
    yaml = (
        "version: 1\nrules:\n  - name: flagged\n    triggers: [created]\n    conditions:\n"
        "      all:\n        - {field: source.header.X-Priority, op: matches, value: '^1\\b'}\n"
        "        - {field: source.domain, op: is, value: SMALL.example}\n"
        "        - {field: language, op: is, value: en}\n"
        "    actions: [{type: add_tags, tags: [flagged]}]\n"
    )
    for ticket, fires in ((flagged, True), (plain, False)):
        r = desk.agent.post("/rules/dry-run", {"ticket_id": ticket["id"], "yaml": yaml})
        assert r.status == 200, r
        assert r.data["snapshot"]["source.mailbox"] == "lmtp"
        assert r.data["snapshot"]["source.domain"] == "small.example"
        assert r.data["fired"] == (["flagged"] if fires else [])


def test_headers_kept_are_bounded(desk: Desk, send: Any) -> None:
    from flowdesk.mail.source import MAX_HEADERS, MAX_VALUE

    many = {f"X-Extra-{i:02}": "v" for i in range(80)}
    ticket = send(mail(headers={"X-Long": "yes " * 500, **many}))
    headers = ticket["source"]["headers"]
    assert len(headers) == MAX_HEADERS
    assert len(headers["x-long"]) == MAX_VALUE
    assert headers["x-long"].startswith("yes yes")
    assert all(name == name.lower() for name in headers)


def _setup_calendars(desk: Desk) -> None:
    from test_sla_runtime import _team_id

    for name, definition in (("Night", NIGHT), ("Day", DAY)):
        r = desk.admin.post("/calendars", {"name": name, "definition": definition})
        assert r.status == 201, r
    r = desk.admin.call("PUT", f"/teams/{_team_id(desk, 'Tier 1')}/calendar", {"calendar": "Day"})
    assert r.status == 200, r
    policy = {"name": "Tier 1", "targets": {"first_reply": "1h"}}
    policy["conditions"] = {"all": [{"field": "team", "op": "is", "value": "Tier 1"}]}
    r = desk.admin.call("PUT", "/sla-policies", {"policies": [policy]})
    assert r.status == 200, r


def test_a_mailbox_calendar_runs_its_tickets_clocks_before_the_team_calendar(
    desk: Desk, send: Any
) -> None:
    from flowdesk.calendars import add_business_time, calendar_from_dict

    _setup_calendars(desk)
    plain = send(mail(subject="Before the mailbox has a calendar"))
    r = desk.admin.patch("/mailboxes/lmtp", {"calendar": "Night"})
    assert r.status == 200, r
    night = send(mail(subject="After"))
    by_api = desk.agent.post(
        "/tickets",
        {
            "subject": "By API",
            "body": "x",
            "requester_email": desk.customer_email,
            "team": "Tier 1",
        },
    ).data
    for ticket, calendar, definition in (
        (plain, "Day", DAY),
        (night, "Night", NIGHT),
        (by_api, "Day", DAY),
    ):
        sla = desk.agent.get(f"/tickets/{ticket['id']}/sla").data
        assert sla["calendar"] == calendar, ticket["subject"]
        [clock] = [c for c in sla["clocks"] if c["metric"] == "first_reply"]
        created = datetime.fromisoformat(ticket["created_at"].replace("Z", "+00:00"))
        due = add_business_time(calendar_from_dict(definition), created, 3600)
        assert datetime.fromisoformat(clock["due_at"].replace("Z", "+00:00")) == due
