"""Languages: English and Filipino, chosen by the user's account, the switcher's cookie or the
browser's Accept-Language (``tl`` is Filipino too); Filipino dates; the catalogue compiled."""

from __future__ import annotations

import ast
import gettext
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import formats, translation

LOCALE = Path(__file__).resolve().parent.parent / "src" / "flowdesk" / "locale"


def _language(client: Client, **headers: Any) -> str:
    r = client.get("/login", **headers)
    assert r.status_code == 200, r
    return str(r.headers["Content-Language"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("fil", "fil"),
        ("fil-PH,fil;q=0.9,en;q=0.8", "fil"),
        ("tl", "fil"),
        ("de-DE,de;q=0.9", "en"),
        ("en-US,en;q=0.9", "en"),
        ("", "en"),
    ],
)
def test_the_browser_language_is_used_when_nothing_else_is_chosen(
    accept: str, expected: str
) -> None:
    assert _language(Client(), HTTP_ACCEPT_LANGUAGE=accept) == expected


@pytest.mark.django_db
def test_the_switcher_sets_a_cookie_and_a_signed_in_users_choice_follows_them() -> None:
    from flowdesk.accounts.models import Role, User

    anonymous = Client()
    r = anonymous.post("/i18n/setlang/", {"language": "fil", "next": "/login"})
    assert r.status_code == 302, r
    assert _language(anonymous, HTTP_ACCEPT_LANGUAGE="en") == "fil"  # the cookie wins

    agent = User.objects.create_user("wika@desk.test", "pw", role=Role.AGENT)
    browser = Client()
    browser.force_login(agent)
    r = browser.post("/i18n/setlang/", {"language": "tl", "next": "/login"})
    assert r.status_code == 302, r
    agent.refresh_from_db()
    assert agent.language == "fil"  # kept on the account, normalised
    other_browser = Client()
    other_browser.force_login(agent)
    r = other_browser.get("/agent/", HTTP_ACCEPT_LANGUAGE="en")
    assert r.headers["Content-Language"] == "fil"
    r = browser.post("/i18n/setlang/", {"language": "xx", "next": "/login"})
    assert r.status_code == 302  # an unknown language changes nothing
    agent.refresh_from_db()
    assert agent.language == "fil"
    assert browser.get("/i18n/setlang/").status_code == 405  # POST only (CSRF-checked)


def test_filipino_dates_and_month_names() -> None:
    with translation.override("fil"):
        assert formats.date_format(date(2026, 1, 5)) == "Enero 5, 2026"
        assert formats.date_format(date(2026, 12, 24), "l, F j") == "Huwebes, Disyembre 24"
    with translation.override("en"):
        assert formats.date_format(date(2026, 1, 5)) == "Jan. 5, 2026"
    assert translation.get_language_info("fil")["name_local"] == "Filipino"


PoKey = tuple[str, str]  # (context, msgid)


def _po_entries(text: str) -> dict[PoKey, list[str]]:
    """(msgctxt, msgid) -> its msgstr(s) of a .po file: contexts, plurals and continued lines."""
    entries: dict[PoKey, list[str]] = {}
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            field = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d\])?) (".*")$', line)
            if field:
                key = field.group(1)
                fields[key] = ast.literal_eval(field.group(2))
            elif line.startswith('"') and key:
                fields[key] += ast.literal_eval(line)
        if fields.get("msgid"):
            strs = [v for k, v in sorted(fields.items()) if k.startswith("msgstr")]
            entries[(fields.get("msgctxt", ""), fields["msgid"])] = strs
    return entries


def _compiled(po: Path, context: str, msgid: str, count: int) -> list[str]:
    with po.with_suffix(".mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    texts = []
    for n in range(count):  # one number per plural form (Filipino: 1 is "one", 4 is "other")
        number = (1, 4)[n]
        if count > 1:
            texts.append(
                compiled.npgettext(context, msgid, msgid, number)
                if context
                else compiled.ngettext(msgid, msgid, number)
            )
        else:
            texts.append(compiled.pgettext(context, msgid) if context else compiled.gettext(msgid))
    return texts


def _catalogues() -> list[Path]:
    """The project catalogue and every app's own (``flowdesk/<app>/locale``)."""
    return sorted(LOCALE.parent.glob("**/locale/*/LC_MESSAGES/django.po"))


def test_every_compiled_catalogue_matches_its_source() -> None:
    """The .mo files are committed (no gettext tools needed to run flowdesk): each must be the
    compiled form of its .po (``msgfmt -o django.mo django.po``)."""
    catalogues = _catalogues()
    assert LOCALE / "fil" / "LC_MESSAGES" / "django.po" in catalogues
    for po in catalogues:
        entries = _po_entries(po.read_text(encoding="utf-8"))
        assert entries, po
        compiled = {k: _compiled(po, *k, len(v)) for k, v in entries.items() if all(v)}
        assert compiled == {k: v for k, v in entries.items() if all(v)}, po


def test_the_project_catalogue_translates_every_entry() -> None:
    entries = _po_entries((LOCALE / "fil" / "LC_MESSAGES" / "django.po").read_text("utf-8"))
    assert [k for k, v in entries.items() if not all(v)] == []


SRC = LOCALE.parent


def _project_files() -> list[Path]:
    from flowdesk.core.i18n import PROJECT_CATALOGUE_SOURCES

    return sorted(p for pattern in PROJECT_CATALOGUE_SOURCES for p in SRC.glob(pattern))


_CALLS = {"gettext": 1, "gettext_lazy": 1, "gettext_noop": 1, "_": 1, "ngettext": 1}
_CALLS |= {"ngettext_lazy": 1, "pgettext": 2}


def _template_texts(path: Path) -> set[PoKey]:
    from django.utils.translation.template import templatize

    found = set()
    code = templatize(path.read_text("utf-8"), origin=str(path))
    for name, args in re.findall(r"\b(n?p?gettext)\(((?:u'(?:[^'\\]|\\.)*'(?:, )?)+)", code):
        strings = [ast.literal_eval(a) for a in re.findall(r"u('(?:[^'\\]|\\.)*')", args)]
        found.add((strings[0], strings[1]) if name.startswith(("p", "np")) else ("", strings[0]))
    return found


def _module_texts(path: Path) -> set[PoKey]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id in _CALLS and all(isinstance(a, ast.Constant) for a in node.args):
            values = [str(a.value) for a in node.args]  # type: ignore[attr-defined]
            found.add((values[0], values[1]) if node.func.id == "pgettext" else ("", values[0]))
    return found


def test_every_text_of_the_project_catalogues_files_is_translated() -> None:
    """A text marked in a file of the project catalogue but missing from it would show in
    English: run scripts/messages and translate what it adds (docs/languages.md)."""
    entries = _po_entries((LOCALE / "fil" / "LC_MESSAGES" / "django.po").read_text("utf-8"))
    marked: set[PoKey] = set()
    files = _project_files()
    assert SRC / "web" / "templates" / "web" / "base.html" in files
    for path in files:
        marked |= _module_texts(path) if path.suffix == ".py" else _template_texts(path)
    assert len(marked) > 180
    assert sorted(marked - set(entries)) == []


def test_in_language_of_a_user_and_back() -> None:
    from flowdesk.accounts.models import User
    from flowdesk.core.i18n import in_language_of

    with translation.override("en"):
        with in_language_of(User(email="a@b.test", language="fil")) as code:
            assert (code, translation.gettext("Sign in")) == ("fil", "Mag-sign in")
        assert translation.get_language() == "en"
        with in_language_of(User(email="a@b.test")) as code:  # no choice: the default
            assert code == "en"
        with in_language_of(None) as code:
            assert code == "en"


ONE_RULE = """version: 1
rules:
  - name: urgent-first
    triggers: [created]
    conditions: {all: [{field: subject, op: contains, value: urgent}]}
    actions: [{type: set_priority, value: urgent}]
"""


def _switchers(html: str) -> int:
    return html.count('<select id="language-switcher-select" name="language">')


@pytest.mark.django_db
def test_every_surface_has_one_switcher_and_its_language_in_the_html_tag() -> None:
    """The workspace, the sign-in and password pages, the studio, the directory's admin and
    the portal: the switcher (a labelled select, a button, ``next`` back here) and <html lang>."""
    from flowdesk.accounts.models import Role, User
    from flowdesk.automation.services import check_import_yaml

    admin = User.objects.create_user("ada@desk.test", "pw", role=Role.ADMIN, language="fil")
    check_import_yaml(ONE_RULE, source="rules.yaml", author=admin, comment="")
    signed_in = Client()
    signed_in.force_login(admin)
    anonymous = Client(HTTP_ACCEPT_LANGUAGE="fil")
    pages = [
        (anonymous, "/login", "Mag-sign in"),
        (anonymous, "/password/reset", "Nakalimutan ang password"),
        (anonymous, "/portal/", ""),
        (signed_in, "/agent/", "Mag-sign out"),
        (signed_in, "/studio/", "Kasaysayan ng mga bersyon"),
        (signed_in, "/studio/versions/1", "Buksan sa editor"),
        (signed_in, "/studio/edit", "Editor ng mga rule"),
        (signed_in, "/studio/diff?a=1&b=1", "Magkaparehong-magkapareho ang dalawang bersyon."),
        (signed_in, "/studio/flowchart", "Flowchart ng rule set"),
        (signed_in, "/studio/admin/", "Mga team, tao at custom field"),
    ]
    for client, url, text in pages:
        r = client.get(url, follow=True)
        html = r.content.decode()
        assert r.status_code == 200, url
        assert re.search(r'<html lang="fil"', html), url
        assert _switchers(html) == 1, url
        assert '<label for="language-switcher-select">Wika</label>' in html, url
        assert 'action="/i18n/setlang/"' in html, url
        assert "Palitan ang wika</button>" in html, url
        assert f'name="next" value="{url.replace("&", "&amp;")}' in html, url
        assert text in html, url
    english = Client().get("/login").content.decode()
    assert '<html lang="en"' in english
    assert "Forgot password?" in english


@pytest.mark.django_db(transaction=True)
def test_reply_mails_are_in_the_requesters_language(desk: Any, smtp: Any) -> None:
    """The subject and the footer in the customer's language; what the agent wrote as written."""
    from django.core.management import call_command

    from flowdesk.accounts.models import User
    from flowdesk.accounts.services import do_set_language

    do_set_language(User.objects.get(email=desk.customer_email), "fil")
    filipino = desk.customer.post("/tickets", {"subject": "Sira ang printer", "body": "Umuusok."})
    english = desk.other_customer.post("/tickets", {"subject": "Printer", "body": "Smoke."})
    for t in (filipino, english):
        assert t.status == 201, t
        r = desk.agent.post(f"/tickets/{t.data['id']}/messages", {"body": "Unplug it, please."})
        assert r.status == 201, r
    assert smtp.received == []  # nothing leaves inside the request
    call_command("worker", batch=True, verbosity=0)
    mails = {m["To"]: m for m in smtp.received}
    fil_mail, en_mail = mails[desk.customer_email], mails[desk.other_customer_email]
    fid, eid = filipino.data["id"], english.data["id"]
    assert fil_mail["Subject"] == f"Re: Sira ang printer [#{fid}]"
    text, _, footer = (
        fil_mail.get_body(("plain",)).get_content().replace("\r\n", "\n").partition("\n-- \n")
    )
    assert text.strip() == "Unplug it, please."  # the content is not translated
    assert footer.strip() == (
        f"Sagutin ang e-mail na ito para tumugon. Idaragdag ang iyong sagot sa kahilingan #{fid}."
    )
    assert en_mail.get_body(("plain",)).get_content().replace("\r\n", "\n").partition("\n-- \n")[
        2
    ].strip() == (f"Reply to this e-mail to answer. Your reply is added to request #{eid}.")
