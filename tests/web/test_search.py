"""Full-text search (flowdesk.web.search) on both databases: subject, messages and requester,
ranking, accents, Filipino, the access scope, the index kept by the writers and rebuilt."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command

from web_helpers import WebDesk, client_for, listed_ids, ticket


def _search(user: Any, q: str, view: str = "all") -> list[int]:
    return listed_ids(client_for(user).get("/agent/", {"view": view, "q": q}).content.decode())


def _reply(t: Any, user: Any, body: str, public: bool = True) -> None:
    from flowdesk.core.clock import utcnow
    from flowdesk.tickets.services import Cause, ChangeSet, NewMessage, check_update_ticket

    check_update_ticket(
        t,
        changes=ChangeSet(),
        message=NewMessage(body_text=body, public=public),
        expected_version=None,
        cause=Cause.for_user(user),
        now=utcnow(),
    )


def test_subject_messages_and_requester_are_searched(web: WebDesk) -> None:
    card = ticket(web, "Card declined", body="My card was declined at the shop.")
    refund = ticket(web, "Refund", body="I want my money back.")
    _reply(refund, web.alice, "Your refund was approved", public=False)
    assert _search(web.admin, "declined") == [card.pk]
    assert _search(web.admin, "approved refund") == [refund.pk]  # a note, every word
    assert set(_search(web.admin, "cora")) == {card.pk, refund.pk}  # the requester's name
    assert set(_search(web.admin, "cora@acme.test")) == {card.pk, refund.pk}
    assert _search(web.admin, "decl") == [card.pk]  # the last word is a prefix
    assert _search(web.admin, "declined approved") == []


def test_subject_ranks_above_a_message(web: WebDesk) -> None:
    in_body = ticket(web, "Question", body="Something about the invoice, I think.")
    in_subject = ticket(web, "Invoice is wrong", body="Please check.")
    assert _search(web.admin, "invoice") == [in_subject.pk, in_body.pk]


def test_accents_are_folded_in_text_and_query(web: WebDesk) -> None:
    t = ticket(web, "Problème de facturation", body="Mi pedido llegó dañado, José")
    assert _search(web.admin, "probleme") == [t.pk]
    assert _search(web.admin, "DANADO jose") == [t.pk]
    assert _search(web.admin, "llegó") == [t.pk]


def test_filipino_is_searched_as_typed(web: WebDesk) -> None:
    t = ticket(web, "Hindi ko ma-access ang account", body="Nagbabayad po ako pero walang resibo.")
    assert _search(web.admin, "nagbabayad") == [t.pk]  # no stemming
    assert _search(web.admin, "ang account") == [t.pk]  # no stop words
    assert _search(web.admin, "resibo po") == [t.pk]


def test_search_keeps_the_access_scope(web: WebDesk) -> None:
    mine = ticket(web, "Printer jam", team="Tier 1")
    theirs = ticket(web, "Printer fire", team="Tier 2")
    assert _search(web.alice, "printer") == [mine.pk]
    assert _search(web.carol, "printer") == [theirs.pk]
    assert set(_search(web.admin, "printer")) == {mine.pk, theirs.pk}


def test_rebuild_writes_the_same_index(web: WebDesk) -> None:
    from flowdesk.web.models import SearchDoc

    t = ticket(web, "Café au lait", body="Spilled on the keyboard")
    _reply(t, web.alice, "Dry it upside down")
    before = list(SearchDoc.objects.values_list("ticket_id", "head", "body"))
    call_command("search_index", verbosity=0)
    assert list(SearchDoc.objects.values_list("ticket_id", "head", "body")) == before
    assert before == [
        (t.pk, "cafe au lait cora cora acme test", "spilled on the keyboard dry it upside down")
    ]


def test_a_new_subject_and_a_merged_requester_are_searched(web: WebDesk) -> None:
    from flowdesk.accounts.merge import check_merge_customers
    from flowdesk.accounts.services import do_create_user
    from flowdesk.core.clock import utcnow
    from flowdesk.tickets.services import (
        Cause,
        ChangeSet,
        NewMessage,
        check_create_ticket,
        check_update_ticket,
    )

    t = ticket(web, "Printer", body="It smokes.")
    check_update_ticket(
        t,
        changes=ChangeSet(values={"subject": "Laserjet on fire"}),
        message=None,
        expected_version=None,
        cause=Cause.for_user(web.alice),
        now=utcnow(),
    )
    assert _search(web.admin, "laserjet") == [t.pk]
    assert _search(web.admin, "printer") == []
    home = do_create_user("quentin@home.test", name="Quentin")
    mine = check_create_ticket(
        actor=None,
        requester=home,
        subject="From home",
        message=NewMessage(body_text="Hello."),
        channel="email",
        changes=ChangeSet(),
        cause=Cause.for_user(home),
        now=utcnow(),
    )
    assert _search(web.admin, "quentin") == [mine.pk]
    check_merge_customers(home.pk, web.cora.pk, actor=web.alice, now=utcnow())
    assert _search(web.admin, "quentin") == []  # the survivor's words now
    assert mine.pk in _search(web.admin, "cora")
