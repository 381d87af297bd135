"""Every case of the shared e-mail fixture set (real client mails from four reply parsers' suites)
through flowdesk's parser and quote splitter.

``expectations.json`` transcribes what each upstream suite asserts. The checks are translated to
flowdesk's model (reply / quoted / signature, see docs/mail-parsing.md "Fixture results"):

* talon's "reply" is the new message *with* its signature: ``Split.message``;
* the github fragment model (zapier, crisp): a visible fragment's text is in the reply, a hidden
  one in the quoted text or the signature, a signature fragment in the signature; fragment counts
  are implementation details (PROVENANCE.md), so a count of 1 means "nothing split off" and a
  larger count "something split off";
* mail-parser-reply's list of thread messages is ``quotes.thread``.

Cases flowdesk deliberately treats differently are listed in DISAGREEMENTS with the reason (the
same list is in docs/mail-parsing.md); they run as strict xfails, so a change that makes one pass
must also move it out of the list.
"""

from __future__ import annotations

import json
import re
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from flowdesk.mail.htmltext import html_to_text, split_html
from flowdesk.mail.parse import parse
from flowdesk.mail.quotes import Split, split_text, thread

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "email-fixtures"
EXPECTATIONS = FIXTURES / "expectations.json"

#: fixture file -> why flowdesk disagrees with the upstream expectation on purpose
DISAGREEMENTS: dict[str, str] = {
    "talon/misc/reply-separated-by-hr.html": (
        "talon cuts the reply at the <hr>'s parent block and so drops 'Bob', the last line the "
        "sender wrote above the rule; flowdesk never drops text above a quote separator"
    ),
}


def _cases() -> list[Any]:
    if not EXPECTATIONS.exists():
        return [
            pytest.param(
                None,
                marks=pytest.mark.skip(reason=f"shared e-mail fixtures not found at {FIXTURES}"),
                id="fixtures-missing",
            )
        ]
    cases = json.loads(EXPECTATIONS.read_text(encoding="utf-8"))["cases"]
    params = []
    for case in cases:
        marks = []
        if case["file"] in DISAGREEMENTS:
            marks.append(pytest.mark.xfail(strict=True, reason=DISAGREEMENTS[case["file"]]))
        params.append(pytest.param(case, marks=marks, id=case["file"]))
    return params


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _first_plain_part(raw: bytes) -> str:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    content = body.get_content()
    assert isinstance(content, str)
    return content


def _split_for(case: dict[str, Any], raw: bytes) -> Split:
    name: str = case["file"]
    if name.endswith(".html"):
        return split_html(raw.decode("utf-8", "replace"))
    if name.startswith("talon/standard_replies/"):
        # the upstream input is the first text/plain part; flowdesk's parser must agree with it
        text = _first_plain_part(raw)
        assert parse(raw).reply_text == split_text(text).reply
        return split_text(text)
    return split_text(raw.decode("utf-8", "replace"))


def _check_fragments(split: Split, spec: dict[str, Any]) -> None:
    hidden = spec.get("hidden")
    signature = spec.get("signature")
    quoted = spec.get("quoted")
    count = spec.get("count")
    split_off = bool(split.quoted or split.signature)
    if count is not None:
        assert split_off == (count > 1), f"fragment count {count}: split off={split_off}"
    if hidden is not None:
        assert split_off == any(hidden)
    if signature is not None:
        assert bool(split.signature) == any(signature)
    if quoted is not None and hidden is not None:
        inline_quote = any(q and not h for q, h in zip(quoted, hidden, strict=True))
        has_quote_line = any(line.lstrip().startswith(">") for line in split.reply.splitlines())
        assert has_quote_line == inline_quote
    for key, check in (("content_contains", str.__contains__), ("content_starts_with", None)):
        for index, expected in spec.get(key, {}).items():
            i = int(index)
            if signature is not None and signature[i]:
                where = split.signature
            elif hidden[i] if hidden is not None else i > 0:
                where = split.quoted + "\n" + split.signature
            else:
                where = split.reply
            if check is None:
                assert where.startswith(expected), (expected, where[:80])
            else:
                assert expected in where, (expected, where[:200])


@pytest.mark.parametrize("case", _cases())
def test_fixture(case: dict[str, Any] | None) -> None:
    assert case is not None
    raw = (FIXTURES / case["file"]).read_bytes()
    expect = case["expect"]
    started = time.perf_counter()
    split = _split_for(case, raw)
    messages = thread(raw.decode("utf-8", "replace"))
    elapsed = time.perf_counter() - started
    if "max_parse_seconds" in expect:
        assert elapsed < expect["max_parse_seconds"]
        assert split.message or split.quoted
    reply = split.message if case["file"].startswith("talon/") else split.reply
    if "reply_equals_after_strip" in expect:
        assert reply == expect["reply_equals_after_strip"].strip()
    if "first_fragment_equals_after_strip" in expect:
        assert split.reply == expect["first_fragment_equals_after_strip"].strip()
    if "first_fragment_equals" in expect:
        # flowdesk's fields are stripped; the trailing newline upstream keeps is not content
        assert split.reply == expect["first_fragment_equals"].strip()
    for text in expect.get("reply_contains", []):
        assert text in split.reply
    for text in expect.get("reply_not_contains", []):
        assert text not in split.reply
    if expect.get("reply_non_empty"):
        assert split.reply.strip()
    if "reply_text_equals_ignoring_all_whitespace" in expect:
        expected = expect["reply_text_equals_ignoring_all_whitespace"]
        assert _squash(split.message) == _squash(expected)
    if "reply_html_equals_ignoring_all_whitespace" in expect:
        # flowdesk keeps the whole sanitized HTML and splits the text: compare the reply's text
        expected = html_to_text(expect["reply_html_equals_ignoring_all_whitespace"])
        assert _squash(split.message) == _squash(expected)
    if "fragments" in expect:
        _check_fragments(split, expect["fragments"])
    if "replies" in expect:
        assert len(messages) == expect["replies"]["count"]
        for index, texts in expect["replies"].get("body_contains", {}).items():
            for text in texts:
                assert text in messages[int(index)]


def test_nothing_is_lost() -> None:
    """reply + quoted + signature hold every non-blank character of every text fixture."""
    if not EXPECTATIONS.exists():
        pytest.skip(f"shared e-mail fixtures not found at {FIXTURES}")
    for path in sorted(FIXTURES.rglob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        split = split_text(text)
        joined = "".join(fragment.text for fragment in split.fragments)
        assert joined == text.replace("\r\n", "\n"), path.name
        assert sorted(_squash(split.reply + split.quoted + split.signature)) == sorted(
            _squash(text)
        ), path.name
