"""The portal in Filipino: its app-local catalogue (src/flowdesk/portal/locale) is complete for
every string its templates and code mark, its compiled .mo matches the .po (plural and
multi-line entries too, which tests/test_i18n.py's check of the project catalogue skips), and
pages and form errors come out in Filipino for ``Accept-Language: fil``."""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

from django.test import Client

from portal_helpers import kb_article, signed_in
from web_helpers import WebDesk

SRC = Path(__file__).resolve().parents[2] / "src" / "flowdesk"
APP_CATALOGUES = sorted(SRC.glob("*/locale/*/LC_MESSAGES/django.po"))
PORTAL = SRC / "portal"
ENTRY = re.compile(
    r'^msgid ((?:".*"\n)+)(?:msgid_plural ((?:".*"\n)+))?((?:msgstr(?:\[\d\])? (?:".*"\n?)+)+)',
    re.MULTILINE,
)


def _unquote(block: str) -> str:
    return "".join(ast.literal_eval(line) for line in block.strip().split("\n"))


def _entries(po: Path) -> dict[str, list[str]]:
    """msgid -> its msgstr forms ([one] or [one, other]) of a .po file."""
    out: dict[str, list[str]] = {}
    for m in ENTRY.finditer(po.read_text(encoding="utf-8")):
        msgid = _unquote(m.group(1))
        forms = re.split(r"^msgstr(?:\[\d\])? ", m.group(3), flags=re.MULTILINE)[1:]
        if msgid:
            out[msgid] = [_unquote(f) for f in forms]
    return out


def test_every_app_catalogue_is_compiled_from_its_source() -> None:
    assert PORTAL / "locale" / "fil" / "LC_MESSAGES" / "django.po" in APP_CATALOGUES
    for po in APP_CATALOGUES:
        entries = _entries(po)
        with po.with_suffix(".mo").open("rb") as f:
            compiled = gettext.GNUTranslations(f)
        for msgid, forms in entries.items():
            assert all(forms), (po, msgid)  # translated
            if len(forms) == 1:
                assert compiled.gettext(msgid) == forms[0], (po, msgid)
            else:
                got = [compiled.ngettext(msgid, msgid + "~", n) for n in (1, 4)]
                assert got == forms, (po, msgid)


def _marked_strings() -> set[str]:
    found: set[str] = set()
    for template in (PORTAL / "templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        found |= set(re.findall(r'{% translate "([^"]+)"', text))
        found |= set(re.findall(r"{% translate '([^']+)'", text))
        for body in re.findall(r"{% blocktranslate[^%]*%}(.*?){% (?:plural|endblock)", text):
            found.add(re.sub(r"{{ (\w+) }}", r"%(\1)s", body))
    for module in PORTAL.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", "") in ("_", "gettext_lazy")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(str(node.args[0].value))
    return found


def test_the_portal_catalogue_translates_every_string_the_portal_marks() -> None:
    marked = _marked_strings()
    assert len(marked) > 100
    assert "Was this helpful?" in marked
    assert "My requests" in marked
    entries = _entries(PORTAL / "locale" / "fil" / "LC_MESSAGES" / "django.po")
    assert sorted(marked - set(entries)) == []


FIL = {"HTTP_ACCEPT_LANGUAGE": "fil"}


def test_portal_pages_in_filipino(web: WebDesk) -> None:
    kb_article("reset-password", {"en": ("Reset your password", "Press *Forgot*.")})
    login = Client().get("/portal/login", **FIL).content.decode()
    assert "Mag-sign in sa portal ng suporta" in login
    assert "I-e-mail sa akin ang link" in login
    article = Client().get("/portal/help/articles/reset-password", **FIL).content.decode()
    assert "Nakatulong ba ito?" in article
    assert "ipinapakita ito sa Ingles" in article
    assert "Sentro ng tulong" in Client().get("/portal/help/", **FIL).content.decode()
    home = signed_in("cora@acme.test").get("/portal/", **FIL).content.decode()
    assert "Ang aking mga kahilingan" in home
    assert "Mag-sign out" in home
    bad = Client().post("/portal/new", {"subject": "", "body": ""}, **FIL).content.decode()
    assert "Kailangan ang field na ito." in bad or "Bagong kahilingan" in bad


def test_password_errors_in_filipino(web: WebDesk) -> None:
    client = signed_in("cora@acme.test")
    r = client.post("/portal/password", {"new_password1": "123", "new_password2": "123"}, **FIL)
    body = r.content.decode()
    assert r.status_code == 422
    assert "Masyadong maikli ang password na ito." in body
    assert "Puro numero ang password na ito." in body
