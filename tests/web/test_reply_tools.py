"""The reply box's tools through the pages: macros (list, preview, apply with the version check,
without JavaScript and with htmx) and help-center article links (public only, the requester's
language first)."""

from __future__ import annotations

import re

from reply_helpers import make_articles, make_macros
from web_helpers import WebDesk, client_for, ticket


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert found, name
    return found.group(1)


def _apply_form(page: str) -> dict[str, str]:
    form = page[page.index('id="macro-preview"') :]
    return {"version": _hidden(form, "version"), "seen": _hidden(form, "seen")}


def test_a_macro_is_previewed_and_applied_from_the_reply_box(web: WebDesk) -> None:
    from flowdesk.outbox.models import OutboxItem
    from flowdesk.tickets.models import Message, Ticket

    ask, _ = make_macros(web)
    t = ticket(web, "Where is my parcel?", team="Tier 1")
    alice = client_for(web.alice)
    page = alice.get(f"/agent/tickets/{t.pk}").content.decode()
    assert "Ask for the order number" in page
    assert "Hand over to Tier 2" in page
    # Narrowed by a search, then previewed: the page as a browser without JavaScript gets it.
    found = alice.get(f"/agent/tickets/{t.pk}/macros", {"q": "order"}).content.decode()
    assert "Ask for the order number" in found
    assert "Hand over to Tier 2" not in found
    preview = alice.get(f"/agent/tickets/{t.pk}/macros", {"macro": ask.pk}).content.decode()
    assert "<html" in preview
    assert "Hi Cora, which order is it about?" in preview  # rendered, placeholders filled
    changes = preview[preview.index('class="macro-changes"') :]
    assert re.search(r"status</th><td>new</td><td>pending</td>", changes)
    assert re.search(r"tags</th><td>—</td><td>needs-order</td>", changes)
    assert Ticket.objects.get(pk=t.pk).status == "new"  # a preview writes nothing
    # htmx asks for the panel alone.
    part = alice.get(
        f"/agent/tickets/{t.pk}/macros", {"macro": ask.pk}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "<html" not in part
    assert 'id="macro-preview"' in part
    r = alice.post(f"/agent/tickets/{t.pk}/macros/{ask.pk}/apply", _apply_form(preview))
    assert r.status_code == 302
    after = Ticket.objects.get(pk=t.pk)
    assert (after.status, after.tags) == ("pending", ["needs-order"])
    reply = Message.objects.filter(ticket=t).order_by("-id").first()
    assert reply is not None
    assert (reply.public, reply.author, reply.body_text) == (
        True,
        web.alice,
        "Hi Cora, which order is it about?",
    )
    assert OutboxItem.objects.filter(kind="reply").count() == 1  # the e-mail is queued
    shown = alice.get(r["Location"]).content.decode()
    assert "Macro “Ask for the order number” applied." in shown
    assert "which order is it about?" in shown


def test_a_stale_macro_apply_shows_the_conflict_and_applies_nothing(web: WebDesk) -> None:
    from flowdesk.tickets.models import Message, Ticket

    _, hand = make_macros(web)
    t = ticket(web, "Invoice in the wrong currency", team="Tier 1")
    alice, admin = client_for(web.alice), client_for(web.admin)
    preview = alice.get(f"/agent/tickets/{t.pk}/macros", {"macro": hand.pk}).content.decode()
    loaded = _apply_form(preview)
    # Meanwhile the admin sets the priority from the field sidebar.
    admin_page = admin.get(f"/agent/tickets/{t.pk}").content.decode()
    r = admin.post(
        f"/agent/tickets/{t.pk}/fields",
        {
            "priority": "urgent",
            "orig_priority": "normal",
            "version": _hidden(admin_page, "version"),
            "seen": _hidden(admin_page, "seen"),
        },
    )
    assert r.status_code == 302
    messages = Message.objects.filter(ticket=t).count()
    r = alice.post(f"/agent/tickets/{t.pk}/macros/{hand.pk}/apply", loaded)
    assert r.status_code == 409
    page = r.content.decode()
    conflict = page[page.index('id="macro-conflict"') :]
    assert "Not applied: this ticket changed since you opened it." in conflict
    assert re.search(r"Ada Admin changed priority from normal to urgent", conflict)
    assert Message.objects.filter(ticket=t).count() == messages
    assert Ticket.objects.get(pk=t.pk).team.name == "Tier 1"
    # The preview is of the ticket as it is now, with its version: applying again works.
    assert re.search(r"priority</th><td>urgent</td><td>high</td>", page)
    r = alice.post(f"/agent/tickets/{t.pk}/macros/{hand.pk}/apply", _apply_form(page))
    assert r.status_code == 302
    assert r["Location"] == "/agent/"  # handed to Tier 2: no longer hers to see
    assert "Macro “Hand over to Tier 2” applied." in alice.get("/agent/").content.decode()
    after = Ticket.objects.get(pk=t.pk)
    assert (after.team.name, after.priority) == ("Tier 2", "high")
    note = Message.objects.filter(ticket=t).order_by("-id").first()
    assert note is not None
    assert (note.public, note.body_text) == (False, "Passed to Tier 2.")


def test_macros_other_agents_may_not_use_are_not_found(web: WebDesk) -> None:
    from flowdesk.core.clock import utcnow
    from flowdesk.macros.definition import MacroDef
    from flowdesk.macros.services import check_create_macro

    mine = check_create_macro(
        MacroDef.model_validate(
            {"name": "Carol's own", "visibility": "personal", "owner": "carol@desk.test"}
        ),
        actor=web.admin,
        now=utcnow(),
    )
    t = ticket(web, "Printer on fire")
    alice = client_for(web.alice)
    assert "Carol&#x27;s own" not in alice.get(f"/agent/tickets/{t.pk}").content.decode()
    r = alice.get(f"/agent/tickets/{t.pk}/macros", {"macro": mine.pk})
    assert r.status_code == 404
    assert alice.post(f"/agent/tickets/{t.pk}/macros/{mine.pk}/apply", {}).status_code == 404


def test_article_links_are_public_in_the_requesters_language_then_english(
    web: WebDesk,
) -> None:
    from flowdesk.accounts.models import User

    make_articles(web)
    t = ticket(web, "Cannot sign in")
    alice = client_for(web.alice)
    url = f"/agent/tickets/{t.pk}/articles"
    page = alice.get(url, {"q": "password"}).content.decode()
    results = page[page.index('id="article-results"') :]
    assert "Reset your password" in results
    assert "Password rules" in results
    assert "Password vault" not in results  # internal: not for a customer's reply
    assert "http://testserver/portal/kb/reset-password" in results  # copyable without JS
    assert 'data-insert-link data-title="Reset your password"' in results
    User.objects.filter(pk=web.cora.pk).update(language="fil")
    part = alice.get(url, {"q": "password"}, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in part
    assert "I-reset ang password" in part
    assert "Reset your password" not in part
    assert "Password rules" in part  # no Filipino translation: the English one
    empty = alice.get(url, {"q": "zzzz"}).content.decode()
    assert "No public article matches" in empty
