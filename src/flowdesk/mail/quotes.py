"""Split a plain-text mail body into the new reply, the quoted history and the signature.

The splitter is line based and never drops text: ``split_text`` returns ordered fragments that,
joined, give back the (line-ending normalised) input exactly. Quoted history starts at

* an attribution line ("On <date>, <name> wrote:" in many languages, wrapped over up to three
  lines; or any line with a time, an address or the verb, and a trailing colon, which covers
  clients that write "<date> <name> <address>:" or put the verb before the name),
* an "Original Message" separator, or a separator rule followed by a header block,
* a header block (From:/Sent:/To:/Subject: and their translations, at least two lines),
* or a run of ``>`` lines that reaches the end of the mail (ignoring a trailing signature).

An attribution followed by ``>`` lines and then more unquoted text is an inline (interleaved)
reply and stays in the reply, except when it opens the mail and is the only quote (bottom posting).
Signatures start at a ``--`` line, a rule of underscores, or a "Sent from my ..." line near the end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

#: lines longer than this are only matched on their first characters (regex cost stays linear)
_MATCH_CHARS = 400
#: a signature is at most this many non-blank lines; a longer "signature" is body text
_MAX_SIGNATURE_LINES = 20
#: how many lines an attribution may be wrapped over
_ATTRIBUTION_LINES = 3
#: a longer body is not split (kept whole as the reply): the split is linear, but not free
MAX_SPLIT_CHARS = 1_000_000
#: thread() depth limit
_MAX_THREAD_DEPTH = 30

_WROTE = (
    r"wrote|writes|schrieb|schreibt|a\s+écrit|a\s+ecrit|écrit|escribió|escribio|ha\s+scritto|"
    r"scrisse|schreef|skrev|skrivit|kirjoitti|escreveu|napisał|napisała|napisal|napsal|napísal|"
    r"написал|написала|пишет|написав|írta|yazdı|έγραψε|scrie|a\s+scris|rašė|rakstīja|kirjutas|"  # noqa: RUF001
    r"写道|寫道|작성|のメッセージ|より"
)
_WROTE_RE = re.compile(rf"(?:^|[\s,]|(?<=\w))(?:{_WROTE})(?:\s*\(\w+\))?\s*(?::|-+)?\s*$", re.I)
#: the verb before the name ("Am 13.10.2025 um 09:00 schrieb Support:")
_WROTE_ANY_RE = re.compile(rf"(?:^|\W)(?:{_WROTE})(?:\W|$)", re.I)
#: the last word of every verb above, for a cheap test before the regex
_WROTE_LAST_WORDS = tuple({w.split("\\s+")[-1] for w in _WROTE.split("|")})
_TRAILER_RE = re.compile(r"(?:\s*\(\w+\))?[\s:\-]*$")
_TIME_RE = re.compile(r"\d{1,2}\s*[:.h]\s*\d{2}")
_ADDRESS_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ORIGINAL_RE = re.compile(
    r"^\s*[-_=*]{2,}\s*(?:original\s+message|forwarded\s+message|ursprüngliche\s+nachricht|"
    r"weitergeleitete\s+nachricht|originalnachricht|oprindelig\s+besked|videresendt\s+besked|"
    r"opprinnelig\s+melding|ursprungligt\s+meddelande|vidarebefordrat\s+meddelande|"
    r"alkuperäinen\s+viesti|message\s+d'origine|message\s+transféré|mensaje\s+original|"
    r"mensagem\s+original|messaggio\s+originale|messaggio\s+inoltrato|oorspronkelijk\s+bericht|"
    r"doorgestuurd\s+bericht|wiadomość\s+oryginalna|původní\s+zpráva|исходное\s+сообщение|"
    r"пересылаемое\s+сообщение|eredeti\s+üzenet|orijinal\s+mesaj|原始邮件|原始郵件|元のメッセージ)"
    r"\s*[-_=*]{2,}\s*$",
    re.I,
)
_RULE_RE = re.compile(r"^\s*(?:_{5,}|-{5,}|—{3,})\s*$")
_FROM_WORDS = (
    r"from|von|fra|från|de|da|van|od|от|lähettäjä|feladó|gönderen|kimden|från|od\s+kogo|发件人|"
    r"寄件者|差出人|보낸\s*사람"
)
_OTHER_WORDS = (
    r"sent|date|to|cc|bcc|subject|reply-to|gesendet|datum|an|betreff|kopie|dato|til|emne|sendt|"
    r"kopi|skickat|till|ämne|kopia|lähetetty|päivämäärä|vastaanottaja|aihe|envoyé|à|objet|"
    r"enviado|fecha|para|asunto|enviada|assunto|inviato|data|a|oggetto|verzonden|aan|onderwerp|"
    r"wysłano|wysłane|do|temat|odesláno|komu|předmět|отправлено|дата|кому|тема|копия|elküldve|"
    r"címzett|tárgy|gönderildi|kime|konu|发送时间|收件人|主题|日付|宛先|件名|送信日時|날짜|받는\s*사람|제목"
)
_FROM_HEADER_RE = re.compile(rf"^\s*\*?\s*(?:{_FROM_WORDS})\s*:\s*\*?\s*\S", re.I)
_ANY_HEADER_RE = re.compile(rf"^\s*\*?\s*(?:{_FROM_WORDS}|{_OTHER_WORDS})\s*:\s*\*?", re.I)
_SIG_DELIMITER_RE = re.compile(r"^(?:--|-- |__+)\s*$")
_SENT_FROM_RE = re.compile(
    r"^\s*(?:sent\s+from\s+my\s+\S.{0,40}|sent\s+with\s+\S.{0,60}|get\s+outlook\s+for\s+\S.{0,40}|"
    r"von\s+meinem\s+\S.{0,40}\s+gesendet|envoyé\s+de\s+mon\s+\S.{0,40}|enviado\s+desde\s+mi\s+"
    r"\S.{0,40}|inviato\s+da(?:l\s+mio)?\s+\S.{0,40}|verzonden\s+met\s+\S.{0,40}|skickat\s+från\s+"
    r"min\s+\S.{0,40}|sendt\s+fra\s+min\s+\S.{0,40}|отправлено\s+с\s+\S.{0,40})\s*$",  # noqa: RUF001
    re.I,
)
_QUOTE_PREFIX_RE = re.compile(r"^[ \t]*>[ \t]?")


class Kind(StrEnum):
    REPLY = "reply"
    QUOTED = "quoted"
    SIGNATURE = "signature"


@dataclass(frozen=True)
class Fragment:
    kind: Kind
    text: str


@dataclass(frozen=True)
class Split:
    """Ordered fragments whose texts, joined, are the whole input."""

    fragments: tuple[Fragment, ...]
    #: the attribution/header lines that open the quoted history ("" when it has none)
    attribution: str = ""

    def _join(self, kind: Kind) -> str:
        return "".join(f.text for f in self.fragments if f.kind is kind)

    @property
    def reply(self) -> str:
        return self._join(Kind.REPLY).strip()

    @property
    def quoted(self) -> str:
        return self._join(Kind.QUOTED).strip()

    @property
    def signature(self) -> str:
        return self._join(Kind.SIGNATURE).strip()

    @property
    def message(self) -> str:
        """The new message as its author wrote it: reply and signature, without the history."""
        return "".join(f.text for f in self.fragments if f.kind is not Kind.QUOTED).strip()


def _short(line: str) -> str:
    return line[:_MATCH_CHARS]


def _is_quote(line: str) -> bool:
    return line.lstrip(" \t").startswith(">")


def _is_blank(line: str) -> bool:
    return not line.strip()


def _ends_with_verb(joined: str) -> bool:
    tail = joined[-48:]
    stem = tail[: _TRAILER_RE.search(tail).start()].lower()  # type: ignore[union-attr]
    return stem.endswith(_WROTE_LAST_WORDS) and bool(_WROTE_RE.search(tail))


def _attribution_end(lines: list[str], i: int) -> int | None:
    """Index after the attribution starting at line i, or None when line i starts none."""
    if _is_quote(lines[i]) or _is_blank(lines[i]):
        return None
    joined = ""
    for k in range(_ATTRIBUTION_LINES):
        if i + k >= len(lines) or (k and _is_blank(lines[i + k])):
            return None
        if k and _is_quote(lines[i + k]) and len(lines[i + k].strip()) > 3:
            return None  # only a stray ">:" may continue a wrapped attribution
        joined = f"{joined} {_short(lines[i + k]).strip()}".strip()
        if len(joined) > 300:
            return None
        end = i + k + 1
        if _ends_with_verb(joined) and (
            re.search(r"\d", joined) or (end < len(lines) and _is_quote(lines[end]))
        ):
            return end
        if (
            joined.endswith(":")
            and _TIME_RE.search(joined)
            and (_ADDRESS_RE.search(joined) or _WROTE_ANY_RE.search(joined))
        ):
            return end
    return None


def _header_block_end(lines: list[str], i: int) -> int | None:
    """Index after a From:/Sent:/To: block starting at line i (two header lines, one From)."""
    headers = 0
    seen_from = False
    j = i
    while j < len(lines) and j < i + 12:
        line = _short(lines[j])
        if _ANY_HEADER_RE.match(line):
            headers += 1
            seen_from = seen_from or bool(_FROM_HEADER_RE.match(line))
        elif _is_blank(line) or headers == 0:
            break
        # a wrapped header value (Outlook splits long From: lines) continues the block
        j += 1
    if headers >= 2 and seen_from:
        return j
    return None


def _history_header(lines: list[str], i: int) -> int | None:
    """Index after the quote header (attribution, separator, header block) at line i."""
    line = _short(lines[i])
    if _ORIGINAL_RE.match(line):
        return i + 1
    if _RULE_RE.match(line):
        j = i + 1
        while j < len(lines) and _is_blank(lines[j]):
            j += 1
        if j < len(lines) and _header_block_end(lines, j) is not None:
            return i + 1
        return None
    if _FROM_HEADER_RE.match(line) or _ANY_HEADER_RE.match(line):
        return _header_block_end(lines, i)
    return _attribution_end(lines, i)


def _starts_later(lines: list[str], i: int, header_end: int) -> bool:
    """True when a wrapped attribution really starts on line i + 1 and line i ends the reply."""
    if i + 1 >= header_end or _attribution_end(lines, i + 1) != header_end:
        return False
    first = lines[i].rstrip()
    return first.endswith((".", "!", "?")) or not re.search(r"[\d@]", first)


def _classify(lines: list[str]) -> list[bool]:
    """Which lines are quoted; an unquoted line wrapped between two quoted ones counts as quoted."""
    quoted = [_is_quote(line) for line in lines]
    for i in range(1, len(lines) - 1):
        if not quoted[i] and quoted[i - 1] and quoted[i + 1] and not _is_blank(lines[i]):
            quoted[i] = True
    return quoted


class _Lines:
    """The lines with prefix counts, so every range question is O(1) and a split stays linear."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.quoted = _classify(lines)
        self.n = len(lines)
        self._quoted_before = [0]
        self._text_before = [0]
        for line, quoted in zip(lines, self.quoted, strict=True):
            self._quoted_before.append(self._quoted_before[-1] + quoted)
            self._text_before.append(self._text_before[-1] + (not _is_blank(line)))
        # the first signature delimiter at or after each line (None: no more)
        self._next_delimiter: list[int | None] = [None] * (self.n + 1)
        for i in range(self.n - 1, -1, -1):
            is_delimiter = not self.quoted[i] and bool(
                _SIG_DELIMITER_RE.match(_short(lines[i])) or _SENT_FROM_RE.match(_short(lines[i]))
            )
            self._next_delimiter[i] = i if is_delimiter else self._next_delimiter[i + 1]

    def quoted_in(self, start: int, end: int) -> int:
        return self._quoted_before[max(end, start)] - self._quoted_before[start]

    def text_in(self, start: int, end: int) -> int:
        return self._text_before[max(end, start)] - self._text_before[start]

    def signature_at(self, i: int, end: int) -> bool:
        """Whether a signature block starts at line i and runs to ``end``."""
        return (
            self._next_delimiter[i] == i
            and not self.quoted_in(i + 1, end)
            and self.text_in(i + 1, end) <= _MAX_SIGNATURE_LINES
        )

    def signature_start(self, start: int, end: int) -> int | None:
        """First signature line in [start, end) whose block runs to ``end``."""
        i = self._next_delimiter[start] if start < self.n else None
        while i is not None and i < end:
            if self.signature_at(i, end):
                return i
            i = self._next_delimiter[i + 1]
        return None

    def tail_is_footer(self, start: int) -> bool:
        """True when lines[start:] are blank or a signature/footer block."""
        if not self.text_in(start, self.n):
            return True
        j = start
        while _is_blank(self.lines[j]):
            j += 1
        return self.signature_at(j, self.n)

    def quote_block_end(self, start: int) -> int:
        """Index after the run of quoted and blank lines starting at ``start``."""
        j = start
        while j < self.n and (self.quoted[j] or _is_blank(self.lines[j])):
            j += 1
        while j > start and _is_blank(self.lines[j - 1]):
            j -= 1  # give trailing blank lines back to what follows
        return j


def _find_history(text: _Lines) -> tuple[int, int, int] | None:
    """(start, header end, end) of the quoted history, or None."""
    lines, quoted, n = text.lines, text.quoted, text.n
    i = 0
    while i < n:
        if quoted[i]:
            i += 1
            continue
        header_end = _history_header(lines, i)
        if header_end is None or _starts_later(lines, i, header_end):
            i += 1
            continue
        j = header_end
        while j < n and _is_blank(lines[j]):
            j += 1
        if j >= n or not quoted[j]:
            return i, header_end, n  # unquoted original (Outlook style): history to the end
        block_end = text.quote_block_end(j)
        if text.tail_is_footer(block_end):
            return i, header_end, block_end
        if not text.text_in(0, i) and not text.quoted_in(block_end, n):
            return i, header_end, block_end  # bottom posting: one quote on top, reply below
        i = block_end  # an inline quote: its lines cannot start the history
    # no header: a quoted run that reaches the end, ignoring a signature after it
    end = n
    while end > 0 and _is_blank(lines[end - 1]):
        end -= 1
    if end and not quoted[end - 1]:
        sig = text.signature_start(0, end)
        if sig is None:
            return None
        end = sig
        while end > 0 and _is_blank(lines[end - 1]):
            end -= 1
    start = end
    while start > 0 and (quoted[start - 1] or _is_blank(lines[start - 1])):
        start -= 1
    while start < end and _is_blank(lines[start]):
        start += 1
    if start >= end or not text.text_in(0, start):
        return None
    return start, start, end


def split_text(text: str) -> Split:
    """Split a plain-text body (see the module docstring); never raises, never loses text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > MAX_SPLIT_CHARS:
        return Split((Fragment(Kind.REPLY, text),))
    lines = text.split("\n")
    # keep the line endings on the pieces so the fragments join back to the input exactly
    pieces = [line + "\n" for line in lines[:-1]] + [lines[-1]]
    info = _Lines(lines)
    kinds = [Kind.REPLY] * len(lines)
    attribution = ""
    history = _find_history(info)
    reply_end = len(lines)
    if history is not None:
        start, header_end, end = history
        attribution = "".join(pieces[start:header_end]).strip()
        for k in range(start, end):
            kinds[k] = Kind.QUOTED
        reply_end = start
        # a footer after the quoted history (mailing-list trailer, signature below the quote)
        tail_sig = info.signature_start(end, len(lines)) if end < len(lines) else None
        if tail_sig is not None:
            for k in range(tail_sig, len(lines)):
                kinds[k] = Kind.SIGNATURE
        if not info.text_in(0, start):
            reply_end = len(lines)  # bottom posting: the reply is below the quote
    sig = info.signature_start(0, reply_end) if reply_end else None
    if sig is not None and sig > 0 and info.text_in(0, sig):
        for k in range(sig, reply_end):
            if kinds[k] is Kind.REPLY:
                kinds[k] = Kind.SIGNATURE
    fragments: list[Fragment] = []
    run: list[str] = []
    for k, (kind, piece) in enumerate(zip(kinds, pieces, strict=True)):
        run.append(piece)
        if k + 1 == len(kinds) or kinds[k + 1] is not kind:
            fragments.append(Fragment(kind, "".join(run)))
            run = []
    return Split(tuple(f for f in fragments if f.text), attribution)


def unquote(text: str) -> str:
    """Remove one level of ``>`` quoting."""
    return "\n".join(_QUOTE_PREFIX_RE.sub("", line, count=1) for line in text.split("\n"))


def thread(text: str) -> list[str]:
    """The messages of a quoted thread, newest first (each without its attribution line)."""
    messages: list[str] = []
    for _ in range(_MAX_THREAD_DEPTH):
        split = split_text(text)
        if split.message:
            messages.append(split.message)
        quoted = split.quoted
        if not quoted:
            break
        if split.attribution and quoted.startswith(split.attribution):
            quoted = quoted[len(split.attribution) :]
        rest = unquote(quoted.strip("\n")) if _is_quote(quoted.lstrip("\n")) else quoted
        if rest.strip() == text.strip():
            break
        text = rest
    return messages
