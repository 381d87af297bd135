"""The workspace in Filipino: the inbox and the ticket page answer in the browser's language
from the app's own catalogue (flowdesk/web/locale), which must be the compiled form of its
source. (tests/test_i18n.py checks the project catalogue, flowdesk/locale, only.)"""

from __future__ import annotations

import gettext
import re
from pathlib import Path

from django.test import Client

from reply_helpers import make_macros
from web_helpers import WebDesk, ticket

WEB_LOCALE = Path(__file__).resolve().parents[2] / "src" / "flowdesk" / "web" / "locale"


def _fil(web: WebDesk) -> Client:
    client = Client(headers={"accept-language": "fil"})
    client.force_login(web.alice)
    return client


def test_the_inbox_in_filipino(web: WebDesk) -> None:
    ticket(web, "Hindi ako makapag-login", team="Tier 1", priority="urgent")
    client = _fil(web)
    r = client.get("/agent/?view=urgent")
    assert r.headers["Content-Language"] == "fil"
    page = r.content.decode()
    for text in ("Mga view ng ticket", "Ayusin ayon sa", "Maramihang aksyon", "apurahan"):
        assert text in page, text
    counts = client.get("/agent/counts?view=urgent").content.decode()
    assert "Lahat ng ticket" in counts
    assert 'aria-label="1 ticket"' in counts
    assert "Nalutas (7 araw)" in counts


def test_the_ticket_page_in_filipino(web: WebDesk) -> None:
    ask, _ = make_macros(web)
    t = ticket(web, "Nasaan ang order ko?", team="Tier 1")
    page = _fil(web).get(f"/agent/tickets/{t.pk}").content.decode()
    for text in (
        "Usapan",
        "Mga macro",
        "Mag-link ng artikulo mula sa help center",
        "Ipadala",
        "Kasaysayan",
        "Mga field",
        "gumawa ng ticket",  # the timeline's sentences too
        "Mga pampublikong artikulo lamang, sa Ingles.",
    ):
        assert text in page, text
    preview = _fil(web).get(f"/agent/tickets/{t.pk}/macros", {"macro": ask.pk}).content.decode()
    assert "Ilapat ang macro" in preview
    assert re.search(r"status</th><td>bago</td><td>naghihintay</td>", preview)


def _entries(text: str) -> dict[str, str | tuple[str, ...]]:
    """msgid -> msgstr (a tuple for plural entries) of a .po file written without wrapping."""
    out: dict[str, str | tuple[str, ...]] = {}
    for block in text.split("\n\n"):
        lines = [ln for ln in block.splitlines() if not ln.startswith("#")]
        fields: dict[str, list[str]] = {}
        for line in lines:
            found = re.match(r'^(msgid|msgid_plural|msgstr(?:\[\d\])?) "(.*)"$', line)
            if found:
                fields.setdefault(found.group(1), []).append(found.group(2))
        key = "".join(fields.get("msgid", []))
        if not key:
            continue
        if "msgid_plural" in fields:
            out[key] = tuple("".join(fields[f"msgstr[{i}]"]) for i in range(2))
        else:
            out[key] = "".join(fields["msgstr"])
    return {_unescape(k): _unescape(v) for k, v in out.items()}  # type: ignore[misc]


def _unescape(value: str | tuple[str, ...]) -> str | tuple[str, ...]:
    if isinstance(value, tuple):
        return tuple(str(_unescape(v)) for v in value)
    return value.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")


def test_the_app_catalogue_is_compiled_and_complete() -> None:
    catalogues = sorted(WEB_LOCALE.glob("*/LC_MESSAGES/django.po"))
    assert catalogues
    for po in catalogues:
        entries = _entries(po.read_text(encoding="utf-8"))
        assert all(v for v in entries.values()), f"{po}: untranslated entries"
        with po.with_suffix(".mo").open("rb") as f:
            compiled = gettext.GNUTranslations(f)
        for key, value in entries.items():
            if isinstance(value, tuple):
                assert (compiled.ngettext(key, key, 1), compiled.ngettext(key, key, 2)) == (
                    value[0],
                    value[1],
                ), key
            else:
                assert compiled.gettext(key) == value, key


SRC = Path(__file__).resolve().parents[2] / "src" / "flowdesk"
#: the frame of every page: what each surface's pages extend or include
BASE_TEMPLATES = (
    "web/templates/web/base.html",
    "portal/templates/portal/base.html",
    "studio/templates/studio/base.html",
    "studio/templates/admin/base_site.html",
    "accounts/templates/flowdesk/_language_switcher.html",
)
MARKED = re.compile(
    r"""{%\s*translate\s+(["'])(.+?)\1(?:\s+context\s+"(.+?)")?\s*%}"""
    r"|{%\s*blocktranslate\s*%}(.+?){%\s*endblocktranslate\s*%}",
    re.S,
)


def test_every_text_of_the_base_templates_has_a_filipino_entry() -> None:
    """Each marked text of the frame is in a Filipino catalogue (project or app), so no page
    of any surface shows an English skip link, menu or switcher to a Filipino reader."""
    from django.utils import translation

    with translation.override("fil"):
        catalog = translation.trans_real.translation("fil")._catalog
        missing, found = [], 0
        for name in BASE_TEMPLATES:
            for m in MARKED.finditer((SRC / name).read_text()):
                found += 1
                text, context = (m.group(2), m.group(3)) if m.group(2) else (m.group(4), None)
                key = f"{context}\x04{text}" if context else text
                if not catalog.get(key):
                    missing.append((name, text))
    assert found > 20  # the pattern reads the templates
    assert missing == []


def test_the_frame_and_the_bulk_form_in_filipino(web: WebDesk) -> None:
    page = _fil(web).get("/agent/").content.decode()
    for text in (
        '<html lang="fil"',
        "Lumaktaw sa pangunahing nilalaman",
        "Mga view</a>",
        "Mag-sign out",
        "Palitan ang wika",
        'aria-label="Wika"',
        '<option value="pending">naghihintay</option>',  # the bulk form's choices
        '<option value="urgent">apurahan</option>',
    ):
        assert text in page, text
    for english in ("Skip to main content", "Sign out", "Change language", ">pending<"):
        assert english not in page, english
