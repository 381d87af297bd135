"""The loop / auto-reply guard and bounce detection (docs/mail-parsing.md has the table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowdesk.mail.parse import parse
from flowdesk.mail.parsed import AutoKind

HERE = Path(__file__).resolve().parent / "fixtures_parse"
OWN = ("support@flowdesk.test", "billing@flowdesk.test")


def mail(extra: str, *, sender: str = "Jane <jane@example.com>", body: str = "Hi\n") -> bytes:
    head = f"From: {sender}\nTo: support@flowdesk.test\nSubject: Question\n{extra}".strip("\n")
    return f"{head}\n\n{body}".encode()


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("Auto-Submitted: auto-replied", AutoKind.AUTO_REPLY),
        ("Auto-Submitted: auto-generated", AutoKind.AUTO_GENERATED),
        ("Auto-Submitted: auto-notified; owner-email=x@example.com", AutoKind.AUTO_GENERATED),
        ("Precedence: bulk", AutoKind.AUTO_GENERATED),
        ("Precedence: junk", AutoKind.AUTO_GENERATED),
        ("Precedence: list", AutoKind.AUTO_GENERATED),
        ("Precedence: auto_reply", AutoKind.AUTO_REPLY),
        ("X-Auto-Response-Suppress: All", AutoKind.AUTO_GENERATED),
        ("X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply", AutoKind.AUTO_GENERATED),
        ("X-Autoreply: yes", AutoKind.AUTO_REPLY),
        ("X-Autorespond: Out of office", AutoKind.AUTO_REPLY),
        ("X-Loop: flowdesk", AutoKind.LOOP),
        ("X-Loop: support@flowdesk.test", AutoKind.LOOP),
        ("Return-Path: <>", AutoKind.AUTO_GENERATED),
        ("List-Id: Users <users.lists.example.com>", AutoKind.AUTO_GENERATED),
        ("List-Unsubscribe: <mailto:leave@lists.example.com>", AutoKind.AUTO_GENERATED),
    ],
)
def test_each_guard_header(header: str, kind: AutoKind) -> None:
    parsed = parse(mail(header), own_addresses=OWN)
    assert parsed.auto is kind
    assert parsed.auto_reason
    assert parsed.bounced_recipients == ()


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Auto-Submitted: no",
        "Precedence: first-class",
        "X-Loop: someone-else.example.org",
        "Return-Path: <jane@example.com>",
        "X-Autoreply: no",
    ],
)
def test_a_persons_mail_passes(header: str) -> None:
    parsed = parse(mail(header), own_addresses=OWN)
    assert parsed.auto is None
    assert parsed.auto_reason == ""


def test_mail_from_an_own_address_is_a_loop() -> None:
    parsed = parse(mail("", sender="Desk <Billing@Flowdesk.test>"), own_addresses=OWN)
    assert parsed.auto is AutoKind.LOOP
    assert parse(mail("", sender="Desk <Billing@Flowdesk.test>")).auto is None


def test_loop_wins_over_auto_reply() -> None:
    raw = mail("Auto-Submitted: auto-replied\nX-Loop: flowdesk")
    assert parse(raw).auto is AutoKind.LOOP


def test_a_custom_loop_marker() -> None:
    raw = mail("X-Loop: helpdesk-acme")
    assert parse(raw).auto is None
    assert parse(raw, loop_marker="helpdesk-acme").auto is AutoKind.LOOP


def test_read_receipt_is_automatic() -> None:
    raw = mail(
        "MIME-Version: 1.0\nContent-Type: multipart/report;"
        ' report-type=disposition-notification; boundary="b"',
        body="--b\nContent-Type: text/plain\n\nYour message was displayed.\n--b\n"
        "Content-Type: message/disposition-notification\n\n"
        "Final-Recipient: rfc822; jane@example.com\nDisposition: manual-action/MDN-sent-manually;"
        " displayed\n--b--\n",
    )
    parsed = parse(raw)
    assert parsed.auto is AutoKind.AUTO_GENERATED
    assert parsed.bounced_recipients == ()


def test_dsn_bounce() -> None:
    parsed = parse((HERE / "dsn-bounce.eml").read_bytes(), own_addresses=OWN)
    assert parsed.auto is AutoKind.BOUNCE
    # failed recipients only; the delayed one is not (yet) a bounce of its address
    assert parsed.bounced_recipients == ("jane.doe@example.net",)
    # the X-Loop inside the returned headers is the original's, not this mail's
    assert parsed.auto_reason == "delivery status notification"
    assert "could not\nbe delivered" in parsed.text


def test_non_standard_bounce_through_flufl() -> None:
    parsed = parse((HERE / "qmail-bounce.eml").read_bytes(), own_addresses=OWN)
    assert parsed.auto is AutoKind.BOUNCE
    assert parsed.bounced_recipients == ("old.customer@example.org",)


def test_a_person_quoting_a_bounce_is_not_a_bounce() -> None:
    body = (
        "Your system sent me this, why?\n\n> Hi. This is the qmail-send program at x.\n"
        "> <old.customer@example.org>:\n> Sorry, no mailbox here by that name. (#5.1.1)\n"
    )
    assert parse(mail("", body=body)).auto is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("dsn-bounce.eml", "911d3110a03a4b3a69ddf0ddaba1e3c97d549ade8064735df959d050893dd703"),
        ("broken-boundary.eml", "7226408ded6ca9d83204d4fe4ec6ec0b6d53c129b695eaaf6e3485fc38f2a750"),
    ],
)
def test_content_hash_is_stable_across_parser_versions(name: str, expected: str) -> None:
    """Dedupe compares the hash of a mail fetched again with the stored one: the parser's
    internals (which email policy it reads headers with) must not change it. These values were
    computed by the parser that read every header with ``policy.default``; the DSN's
    message/delivery-status part is re-serialised, the likeliest place for a difference."""
    assert parse((HERE / name).read_bytes(), own_addresses=OWN).content_hash == expected
