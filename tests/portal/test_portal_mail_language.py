"""The portal's mails speak the customer's language: the account's choice, else the language of
the page that asked for the mail (a visitor without an account: the one the form was filed
in). Read from the mails the outbox delivered."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from portal_helpers import agent_reply, deliver, mailed_link
from web_helpers import WebDesk

SIGNIN_FIL = "Ang iyong link para mag-sign in"
SIGNIN_BODY_FIL = "Buksan ang link na ito para mag-sign in sa portal ng suporta"
VISITOR = {
    "name": "Vic Visitor",
    "email": "vic@example.test",
    "subject": "Nasaan ang resibo ko?",
    "body": "Hindi ko makita ang resibo para sa Marso.",
}


def _mails_to(to: str) -> list[Any]:
    deliver()
    return [m for m in mail.outbox if to in m.to]


def _ask_for_link(language: str) -> Any:
    r = Client().post(
        "/portal/login",
        {"via": "link", "email": "cora@acme.test"},
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert r.status_code == 200
    [sent] = _mails_to("cora@acme.test")
    return sent


@pytest.mark.parametrize(
    ("chosen", "page", "filipino"),
    [
        ("fil", "en", True),  # the account's choice wins over the page it was asked on
        ("en", "fil", False),
        ("", "fil", True),  # no choice yet: the page's language
        ("", "en", False),
    ],
)
def test_the_sign_in_link_mail_is_in_the_customers_language(
    web: WebDesk, chosen: str, page: str, filipino: bool
) -> None:
    from flowdesk.accounts.services import do_set_language

    do_set_language(web.cora, chosen)
    sent = _ask_for_link(page)
    assert (sent.subject == SIGNIN_FIL) is filipino
    assert (SIGNIN_BODY_FIL in sent.body) is filipino
    assert (sent.subject == "Your sign-in link") is not filipino
    assert "/portal/signin/" in sent.body


def test_a_visitors_confirmation_mail_and_the_answers_follow_the_form_language(
    web: WebDesk,
) -> None:
    from flowdesk.tickets.models import Ticket

    r = Client().post("/portal/new", VISITOR, HTTP_ACCEPT_LANGUAGE="fil")
    assert r.status_code == 200
    [confirmation] = _mails_to("vic@example.test")
    assert confirmation.subject == "Pakikumpirma ang iyong kahilingan: Nasaan ang resibo ko?"
    assert "Hello Vic Visitor" not in confirmation.body
    # Opened in an English browser: the new customer keeps the language they wrote in.
    Client().get(mailed_link("vic@example.test"), HTTP_ACCEPT_LANGUAGE="en")
    t = Ticket.objects.get()
    agent_reply(t, web.alice, "Nasa Billing na ang resibo mo.")
    reply = _mails_to("vic@example.test")[-1]
    assert "Nasa Billing na ang resibo mo." in reply.body
    assert "Sagutin ang e-mail na ito para tumugon." in reply.body


def test_a_confirmation_filed_in_english_stays_english(web: WebDesk) -> None:
    Client().post("/portal/new", VISITOR, HTTP_ACCEPT_LANGUAGE="en")
    [confirmation] = _mails_to("vic@example.test")
    assert confirmation.subject == "Please confirm your request: Nasaan ang resibo ko?"
    assert "Hello Vic Visitor," in confirmation.body
