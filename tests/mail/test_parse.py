"""The mail parser on crafted mails: charsets, broken structure, bodies, attachments, the content
hash. The guard and bounces are in test_parse_guard.py. No database needed."""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowdesk.mail.attachments import safe_filename
from flowdesk.mail.parse import UnparsableMail, parse

HERE = Path(__file__).resolve().parent / "fixtures_parse"


def mail(headers: str, body: str | bytes = "Hello\n", *, eol: str = "\n") -> bytes:
    head = headers.strip("\n").replace("\n", eol).encode("utf-8")
    data = body.encode("utf-8") if isinstance(body, str) else body
    return head + eol.encode() + eol.encode() + data


BASIC = """\
From: Jane Doe <Jane.Doe@Example.com>
To: support@flowdesk.test, "Second, Desk" <second@flowdesk.test>
Subject: Hello
Date: Tue, 14 Oct 2025 11:00:00 +0200
Message-ID: <abc-1@example.com>
"""


# --- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("=?utf-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=", "Grüße aus Köln"),
        ("=?iso-8859-1?Q?Caf=E9_cr=E8me?=", "Café crème"),
        ("=?koi8-r?B?8NLJ18XU?=", "Привет"),
        ("=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?=", "テスト"),
        ("=?gb2312?B?xOO6ww==?=", "你好"),
        ("=?windows-1252?Q?=93quoted=94?=", "\u201cquoted\u201d"),
        # adjacent encoded words join without the space between them (RFC 2047 section 6.2)
        ("=?utf-8?Q?Re:_Ihre?= =?utf-8?Q?_Anfrage_=E2=82=AC?=", "Re: Ihre Anfrage €"),
        # folded over two lines, mixed with plain words
        ("Re: =?utf-8?Q?Bestellung?=\n =?utf-8?Q?_Nr=2E_7?= ok", "Re: Bestellung Nr. 7 ok"),
        # an unknown charset falls back instead of failing
        ("=?x-unknown?Q?plain?=", "plain"),
    ],
)
def test_rfc2047_subjects(encoded: str, decoded: str) -> None:
    parsed = parse(mail(f"From: a@example.com\nSubject: {encoded}"))
    assert parsed.subject == decoded


def test_encoded_display_name_with_a_comma_stays_one_address() -> None:
    raw = mail("From: =?utf-8?Q?M=C3=BCller=2C_J=C3=BCrgen?= <JM@Example.de>\nSubject: x")
    parsed = parse(raw)
    assert (parsed.from_name, parsed.from_address) == ("Müller, Jürgen", "jm@example.de")


def test_basic_headers() -> None:
    raw = mail(
        BASIC + "In-Reply-To: <t-1@flowdesk.test> (message from Support)\n"
        "References: <t-0@flowdesk.test>\n <t-1@flowdesk.test>\nReply-To: jd@example.com\n"
    )
    parsed = parse(raw)
    assert parsed.message_id == "abc-1@example.com"
    assert parsed.in_reply_to == ("t-1@flowdesk.test",)
    assert parsed.references == ("t-0@flowdesk.test", "t-1@flowdesk.test")
    assert parsed.from_address == "jane.doe@example.com"
    assert parsed.from_name == "Jane Doe"
    assert parsed.to == ("support@flowdesk.test", "second@flowdesk.test")
    assert parsed.reply_to == ("jd@example.com",)
    assert parsed.date == datetime(2025, 10, 14, 9, 0, tzinfo=UTC)
    assert parsed.headers["subject"] == "Hello"
    assert parsed.text == parsed.reply_text == "Hello"


def test_eight_bit_headers() -> None:
    utf8 = "From: Jürgen Groß <jg@example.de>\nSubject: Grüße und Küsse\n".encode()
    parsed = parse(utf8 + b"\nhi\n")
    assert parsed.subject == "Grüße und Küsse"
    assert parsed.from_name == "Jürgen Groß"
    latin1 = "From: jg@example.de\nSubject: Café crème\n".encode("latin-1")
    assert parse(latin1 + b"\nhi\n").subject == "Café crème"


def test_missing_headers_and_bad_date() -> None:
    parsed = parse(b"Subject: only a subject\nDate: not a date\n\nbody\n")
    assert parsed.from_address == ""
    assert parsed.message_id is None
    assert parsed.date is None
    assert parsed.text == "body"


@pytest.mark.parametrize(
    "raw",
    [b"", b"   \n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"just some words\nno headers\n"],
)
def test_not_a_mail(raw: bytes) -> None:
    with pytest.raises(UnparsableMail):
        parse(raw)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_raise_nothing_but_unparsable(data: bytes) -> None:
    for raw in (data, b"From: a@example.com\nContent-Type: multipart/mixed; boundary=x\n\n" + data):
        with contextlib.suppress(UnparsableMail):
            parse(raw)


# --- bodies and charsets -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "payload", "text"),
    [
        ("us-ascii", "Grüße".encode(), "Grüße"),  # declared ASCII, really UTF-8
        ("utf-8", "Café".encode("cp1252"), "Café"),  # declared UTF-8, really cp1252
        ("x-no-such-charset", "naïve".encode(), "naïve"),  # unknown charset
        ("iso-8859-1", b"\x93smart quotes\x94", "\u201csmart quotes\u201d"),  # really cp1252
        ("shift_jis", "日本語".encode("shift_jis"), "日本語"),
    ],
)
def test_body_charsets(declared: str, payload: bytes, text: str) -> None:
    raw = mail(f"From: a@example.com\nContent-Type: text/plain; charset={declared}", payload)
    assert parse(raw).text == text


def test_base64_and_quoted_printable_bodies() -> None:
    encoded = base64.encodebytes("Hallo Welt, schöne Grüße\n".encode()).decode()
    raw = mail(
        "From: a@example.com\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64",
        encoded,
    )
    assert parse(raw).text == "Hallo Welt, schöne Grüße"
    raw = mail(
        "From: a@example.com\nContent-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: quoted-printable",
        "Gr=FC=DFe, a long line that is soft=\n-wrapped\n",
    )
    assert parse(raw).text == "Grüße, a long line that is soft-wrapped"


def test_broken_boundary_still_parses() -> None:
    parsed = parse((HERE / "broken-boundary.eml").read_bytes())
    assert parsed.text == "Grüße, the file is attached."
    [pdf] = parsed.attachments
    assert pdf.filename == "Rechnung März.pdf"  # RFC 2231, path components dropped
    assert pdf.content.startswith(b"%PDF-1.4")
    assert parsed.defects  # the missing close boundary is reported


NESTED = """\
From: Apple Client <ac@example.com>
To: support@flowdesk.test
Subject: nested
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mixed"

--mixed
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8

See the logo below.

On Mon, Oct 13, 2025 at 9:00 AM, Support <support@flowdesk.test> wrote:
> What does the error look like?
--alt
Content-Type: multipart/related; boundary="rel"; type="text/html"

--rel
Content-Type: text/html; charset=utf-8

<html><head><style>p {{color: red}}</style><script>alert(1)</script></head>
<body onload="steal()"><p style="color: blue; background: url(http://t.example/x)">See the
<b>logo</b> below.</p><img src="cid:logo@ac" alt="logo"><img src="https://t.example/pixel.gif">
<a href="https://example.com/help" onclick="x()">help</a> <a href="javascript:alert(1)">bad</a>
<div class="gmail_quote">On Mon, Oct 13, 2025 at 9:00 AM, Support wrote:<blockquote>What does
the error look like?</blockquote></div></body></html>
--rel
Content-Type: image/png
Content-ID: <logo@ac>
Content-Transfer-Encoding: base64

{png}
--rel--
--alt--
--mixed
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64

{pdf}
--mixed--
"""
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
PDF = b"%PDF-1.4\n" + b"x" * 2000


def _nested() -> bytes:
    return NESTED.format(
        png=base64.encodebytes(PNG).decode().strip(),
        pdf=base64.encodebytes(PDF).decode().strip(),
    ).encode()


def test_nested_alternative_related_with_cid_image() -> None:
    parsed = parse(_nested())
    assert parsed.text.startswith("See the logo below.")
    assert parsed.reply_text == "See the logo below."
    assert parsed.quoted_text.startswith("On Mon, Oct 13, 2025")
    logo, report = parsed.attachments
    assert (logo.content_id, logo.inline, logo.content, logo.size) == ("logo@ac", True, PNG, 48)
    assert logo.filename == "attachment.png"
    assert (report.filename, report.inline, report.content, report.omitted) == (
        "report.pdf",
        False,
        PDF,
        "",
    )
    html = parsed.html
    assert '<img src="cid:logo@ac" alt="logo">' in html
    for bad in ("script", "alert", "onload", "onclick", "pixel.gif", "url(", "javascript"):
        assert bad not in html
    assert 'rel="noopener noreferrer"' in html
    assert "color:blue" in html.replace(" ", "")


def test_html_only_mail_is_converted_and_split() -> None:
    raw = mail(
        "From: a@example.com\nContent-Type: text/html; charset=utf-8",
        "<div>Thanks, that works.</div><div>Jane</div>"
        '<div class="gmail_quote">On Mon, Oct 13, 2025 at 9:00 AM Support wrote:'
        "<blockquote>Please restart it.</blockquote></div>",
    )
    parsed = parse(raw)
    assert parsed.text.startswith("Thanks, that works.\nJane")
    assert parsed.reply_text == "Thanks, that works.\nJane"
    assert "Please restart it." in parsed.quoted_text


def test_signature_is_split_off() -> None:
    raw = mail("From: a@example.com", "It works now.\n\n-- \nJane Doe\nACME Corp\n")
    parsed = parse(raw)
    assert (parsed.reply_text, parsed.signature) == ("It works now.", "-- \nJane Doe\nACME Corp")


# --- attachments ---------------------------------------------------------------------------


def test_attachment_over_the_size_cap_is_listed_not_kept() -> None:
    parsed = parse(_nested(), max_attachment_bytes=1000)
    logo, report = parsed.attachments
    assert logo.content == PNG
    assert not logo.omitted
    assert report.content == b""
    assert report.size == len(PDF)
    assert report.omitted == "larger than 1000 bytes"


def test_attachment_count_and_total_caps() -> None:
    parsed = parse(_nested(), max_attachments=1)
    assert [a.omitted for a in parsed.attachments] == ["", "more than 1 attachments"]
    parsed = parse(_nested(), max_total_attachment_bytes=100)
    assert parsed.attachments[1].omitted.startswith("attachments together larger")


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\evil.exe", "evil.exe"),
        ("  .hidden\x00name\x07.txt ", "hiddenname.txt"),
        ('a<b>c:"d|e?f*.doc', "a_b_c__d_e_f_.doc"),
        ("CON.txt", "_CON.txt"),
        ("", "attachment.pdf"),
        ("x" * 300 + ".docx", "x" * 145 + ".docx"),
    ],
)
def test_safe_filenames(name: str, safe: str) -> None:
    assert safe_filename(name, "application/pdf") == safe


def test_forwarded_message_becomes_an_eml_attachment() -> None:
    raw = mail(
        'From: a@example.com\nSubject: Fwd\nContent-Type: multipart/mixed; boundary="b"',
        "--b\nContent-Type: text/plain\n\nsee below\n--b\nContent-Type: message/rfc822\n\n"
        "From: other@example.com\nSubject: Original question\n\nthe original\n--b--\n",
    )
    parsed = parse(raw)
    assert parsed.text == "see below"
    [eml] = parsed.attachments
    assert eml.filename == "Original question.eml"
    assert b"the original" in eml.content


# --- content hash --------------------------------------------------------------------------


def test_content_hash_is_stable_across_refetch() -> None:
    first = parse(_nested())
    # the server adds trace headers, the IMAP fetch gives CRLF line ends
    refetched = (
        b"Received: from mx (mx [192.0.2.1]) by imap; Tue, 14 Oct 2025 09:00:00 +0000\r\n"
        b"X-Spam-Score: 0.1\r\nDelivered-To: support@flowdesk.test\r\n"
        + _nested().replace(b"\n", b"\r\n")
    )
    assert parse(refetched).content_hash == first.content_hash
    assert len(first.content_hash) == 64


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"See the logo below.\n\nOn", b"See the logo above.\n\nOn"),  # body
        (b"From: Apple Client <ac@example.com>", b"From: Other <other@example.com>"),  # sender
        (b"Subject: nested", b"Subject: nested\nDate: Tue, 14 Oct 2025 11:00:00 +0200"),  # date
        (PDF[-10:], PDF[-10:-1] + b"y"),  # an attachment's content
    ],
)
def test_content_hash_differs_for_a_different_mail_with_the_same_message_id(
    old: bytes, new: bytes
) -> None:
    base = b"Message-ID: <same@example.com>\n" + _nested()
    if old == PDF[-10:]:
        changed_pdf = PDF[:-1] + b"y"
        changed = base.replace(
            base64.encodebytes(PDF).strip(), base64.encodebytes(changed_pdf).strip()
        )
    else:
        changed = base.replace(old, new)
    assert changed != base
    assert parse(changed).content_hash != parse(base).content_hash


def test_adversarial_bodies_split_in_linear_time() -> None:
    import time

    from flowdesk.mail.quotes import split_text

    for text in (
        "text\n--\n" * 3000,
        "Sent from my phone\n" * 3000,
        "On Mon, Jan 1, 2020 at 10:00 John wrote:\n> q\nanswer\n" * 1000,
        "On " + "a1 " * 100_000 + " wrote:\n> x",
    ):
        started = time.perf_counter()
        split = split_text(text)
        assert time.perf_counter() - started < 5  # quadratic would take minutes
        assert "".join(f.text for f in split.fragments) == text


def test_format_flowed_is_joined() -> None:
    raw = mail(
        "From: a@example.com\nContent-Type: text/plain; charset=utf-8; format=flowed",
        "This paragraph was wrapped \nby the client.\n\n-- \nJane\n\n"
        "On Mon, Oct 13, 2025 at 9:00 AM, Support wrote:\n> a quoted \n> line\n",
    )
    parsed = parse(raw)
    assert parsed.reply_text == "This paragraph was wrapped by the client."
    assert parsed.signature == "-- \nJane"
    assert parsed.quoted_text.endswith("> a quoted line")


def test_empty_plain_part_next_to_html_uses_the_html() -> None:
    raw = mail(
        'From: a@example.com\nContent-Type: multipart/alternative; boundary="b"',
        "--b\nContent-Type: text/plain\n\n\n--b\nContent-Type: text/html\n\n"
        "<p>The real message</p>\n--b--\n",
    )
    parsed = parse(raw)
    assert parsed.text == parsed.reply_text == "The real message"


def test_links_and_images_with_data_or_cid_schemes() -> None:
    from flowdesk.mail.htmltext import sanitize_html

    html = sanitize_html(
        '<a href="data:text/html,<script>x</script>">a</a><a href="cid:x">b</a>'
        '<img src="data:image/png;base64,iVBORw0KGgo="><img src="data:text/html,x">'
        '<td background="http://t.example/bg.gif">c</td><img srcset="http://t.example/a 1x">'
    )
    assert "data:text" not in html
    assert "cid:x" not in html
    assert '<img src="data:image/png;base64,iVBORw0KGgo=">' in html
    assert "t.example" not in html


def _nested_multiparts(levels: int) -> bytes:
    head = b"From: a@example.com\nContent-Type: multipart/mixed; boundary=b0\n\n"
    parts = b"".join(
        b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (i, i + 1)
        for i in range(levels)
    )
    return head + parts + b"--b%d\nContent-Type: text/plain\n\ndeep\n" % levels


def test_deep_nesting_is_cut_off_with_a_defect() -> None:
    parsed = parse(_nested_multiparts(60))
    assert any("nesting deeper" in d for d in parsed.defects)


def test_nesting_beyond_the_email_packages_recursion_is_unparsable() -> None:
    with pytest.raises(UnparsableMail, match="RecursionError"):
        parse(_nested_multiparts(3000))


@pytest.mark.parametrize("charset", ["utf\x00-8", "base64", "rot13", "x" * 300, '"'])
def test_hostile_charset_labels(charset: str) -> None:
    raw = b"From: a@example.com\nContent-Type: text/plain; charset=" + charset.encode()
    assert parse(raw + b"\n\nplain words\n").text == "plain words"
