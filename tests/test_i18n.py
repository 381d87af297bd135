"""Languages: English and Filipino, chosen by the user's account, the switcher's cookie or the
browser's Accept-Language (``tl`` is Filipino too); Filipino dates; the catalogue compiled."""

from __future__ import annotations

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


def _po_entries(text: str) -> dict[str, str]:
    """msgid -> msgstr of a .po file (single-line entries, the only kind it has)."""
    pairs = re.findall(r'^msgid "(.*)"\nmsgstr "(.*)"$', text, flags=re.MULTILINE)
    return {k: v for k, v in pairs if k}


def test_every_compiled_catalogue_matches_its_source() -> None:
    """The .mo files are committed (no gettext tools needed to run flowdesk): each must be the
    compiled form of its .po (``msgfmt -o django.mo django.po``)."""
    catalogues = sorted(LOCALE.glob("*/LC_MESSAGES/django.po"))
    assert catalogues
    for po in catalogues:
        entries = _po_entries(po.read_text(encoding="utf-8"))
        with po.with_suffix(".mo").open("rb") as f:
            compiled = gettext.GNUTranslations(f)
        assert {k: compiled.gettext(k) for k in entries} == entries, po
