"""The ticket page: the conversation (customer HTML never raw), replies and notes through the
ticket services, field saves with the version check and the conflict message, the timeline
naming rules and linking their explanation."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

from django.test import Client

from web_helpers import WebDesk, ticket


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _form(page: str) -> dict[str, str]:
    """The field form as loaded: its hidden inputs and current values."""
    form = page[page.index('id="fields"') :]
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
    return {k: v for k, v in hidden.items() if k != "csrfmiddlewaretoken"}


def _loaded(client: Client, ticket_id: int) -> dict[str, str]:
    form = _form(client.get(f"/agent/tickets/{ticket_id}").content.decode())
    return {**form, **{f: form[f"orig_{f}"] for f in ("status", "priority", "assignee", "team")}}


def test_reply_and_note_go_through_the_services(web: WebDesk) -> None:
    from flowdesk.outbox.models import OutboxItem
    from flowdesk.tickets.models import Message, TicketEvent

    t = ticket(web, "Printer on fire", team="Tier 1")
    alice = _client(web.alice)
    r = alice.post(f"/agent/tickets/{t.pk}/messages", {"body": "On our way.", "kind": "reply"})
    assert r.status_code == 302
    r = alice.post(f"/agent/tickets/{t.pk}/messages", {"body": "Toner again?", "kind": "note"})
    page = alice.get(r["Location"]).content.decode()
    assert "Note added." in page
    reply, note = Message.objects.filter(ticket=t).order_by("id")[1:]
    assert (reply.public, reply.author, reply.channel) == (True, web.alice, "web")
    assert (note.public, note.body_text) == (False, "Toner again?")
    assert 'class="message note' in page
    assert "not visible to the customer" in page
    kinds = list(TicketEvent.objects.filter(ticket=t).values_list("kind", flat=True))
    assert {"message_added", "note_added"} <= set(kinds)
    # The public reply leaves flowdesk like the API's, the note does not.
    assert OutboxItem.objects.filter(kind="reply").count() == 1
    r = alice.post(f"/agent/tickets/{t.pk}/messages", {"body": "  ", "kind": "note"})
    assert r.status_code == 422
    assert "must not be blank" in r.content.decode()


def test_customer_html_is_sanitized_and_text_escaped(web: WebDesk) -> None:
    t = ticket(
        web,
        "Broken <script>subject</script>",
        body="<script>alert('text')</script>",
        body_html='<p onclick="x()">Hi <b>there</b></p><script>alert(1)</script>'
        '<img src="https://tracker.example/p.gif"><a href="javascript:alert(2)">link</a>',
    )
    page = _client(web.admin).get(f"/agent/tickets/{t.pk}").content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;subject" in page
    assert "<b>there</b>" in page
    assert "onclick" not in page
    assert "tracker.example" not in page
    assert "javascript:" not in page


def test_field_save_and_a_stale_save_shows_the_conflict(web: WebDesk) -> None:
    from flowdesk.tickets.models import Ticket

    t = ticket(web, "Printer on fire", team="Tier 1")
    alice, admin = _client(web.alice), _client(web.admin)
    alice_form, admin_form = _loaded(alice, t.pk), _loaded(admin, t.pk)
    # Alice saves first: the priority.
    r = alice.post(f"/agent/tickets/{t.pk}/fields", {**alice_form, "priority": "high"})
    assert r.status_code == 302
    assert "Saved: priority." in alice.get(r["Location"]).content.decode()
    # The admin's form is stale: nothing is written, and the page says who changed what.
    stale = {**admin_form, "status": "pending", "tags": "printer, fire"}
    r = admin.post(f"/agent/tickets/{t.pk}/fields", stale)
    assert r.status_code == 409
    page = r.content.decode()
    assert "Not saved" in page
    assert "Alice changed priority from normal to high" in page
    t.refresh_from_db()
    assert (t.status, t.priority, t.tags) == ("new", "high", [])
    # The form keeps the admin's edits and takes Alice's in; saving it again loses neither.
    again = _form(page)
    assert re.search(r"<option value=\"pending\" selected>pending</option>", page)
    assert 'value="printer fire"' in page or 'value="printer, fire"' in page
    assert again["version"] == str(t.version)
    r = admin.post(
        f"/agent/tickets/{t.pk}/fields",
        {
            **again,
            "status": "pending",
            "priority": "high",
            "assignee": "",
            "team": "Tier 1",
            "tags": "printer, fire",
        },
    )
    assert r.status_code == 302, r.content.decode()[:500]
    t = Ticket.objects.get(pk=t.pk)
    assert (t.status, t.priority, sorted(t.tags)) == ("pending", "high", ["fire", "printer"])


def test_field_validation_errors_keep_the_input(web: WebDesk) -> None:
    t = ticket(web, "Printer on fire")
    admin = _client(web.admin)
    form = _loaded(admin, t.pk)
    r = admin.post(f"/agent/tickets/{t.pk}/fields", {**form, "assignee": "nobody@x.test"})
    assert r.status_code == 422
    assert "no active agent" in r.content.decode()
    r = admin.post(f"/agent/tickets/{t.pk}/fields", form)  # nothing changed
    assert r.status_code == 302
    assert "Nothing to save" in admin.get(r["Location"]).content.decode()


def test_type_and_custom_fields_are_saved_from_the_sidebar(web: WebDesk) -> None:
    from flowdesk.tickets.models import CustomFieldDef, Ticket

    CustomFieldDef.objects.create(key="plan", label="Plan", kind="enum", choices=["starter", "pro"])
    CustomFieldDef.objects.create(key="seats", label="Seats", kind="int")
    CustomFieldDef.objects.create(key="vip", label="VIP", kind="bool")
    t = ticket(web, "Upgrade")
    admin = _client(web.admin)
    page = admin.get(f"/agent/tickets/{t.pk}").content.decode()
    for label in ("Type", "Plan", "Seats", "VIP"):
        assert f">{label}</label>" in page
    hidden = dict(re.findall(r'<input type="hidden" name="([\w.]+)" value="([^"]*)"', page))
    base = {k: v for k, v in hidden.items() if k != "csrfmiddlewaretoken"}
    form = {
        **base,
        **{k.removeprefix("orig_"): v for k, v in base.items() if k.startswith("orig_")},
    }
    # A value that is not of the field's kind is refused, named, and nothing is written.
    bad = {**form, "type": "incident", "custom.plan": "pro", "custom.seats": "many"}
    r = admin.post(f"/agent/tickets/{t.pk}/fields", bad)
    assert r.status_code == 422
    html = r.content.decode()
    assert re.search(r'name="custom.seats" value="many"[^>]*aria-invalid="true"', html)
    assert "custom.seats needs an integer, got &#x27;many&#x27;" in html
    assert Ticket.objects.get(pk=t.pk).custom_fields == {}
    CustomFieldDef.objects.create(key="ratio", label="Ratio", kind="number")
    nan = admin.post(f"/agent/tickets/{t.pk}/fields", {**form, "custom.ratio": "nan"})
    assert nan.status_code == 422  # not a 500 from a NaN the database cannot store
    good = {
        **form,
        "type": "incident",
        "custom.plan": "pro",
        "custom.seats": "25",
        "custom.vip": "true",
    }
    r = admin.post(f"/agent/tickets/{t.pk}/fields", good)
    assert r.status_code == 302, r.content.decode()[:400]
    t = Ticket.objects.get(pk=t.pk)
    assert t.type == "incident"
    assert t.custom_fields == {"plan": "pro", "seats": 25, "vip": True}
    # The API reads what the sidebar wrote; clearing a field unsets it.
    shown = admin.get(f"/agent/tickets/{t.pk}").content.decode()
    assert "<option selected>pro</option>" in shown
    assert 'name="custom.seats" value="25"' in shown
    hidden = dict(re.findall(r'<input type="hidden" name="([\w.]+)" value="([^"]*)"', shown))
    again = {k: v for k, v in hidden.items() if k != "csrfmiddlewaretoken"}
    again.update({k.removeprefix("orig_"): v for k, v in again.items() if k.startswith("orig_")})
    r = admin.post(f"/agent/tickets/{t.pk}/fields", {**again, "custom.seats": ""})
    assert r.status_code == 302
    assert Ticket.objects.get(pk=t.pk).custom_fields == {"plan": "pro", "vip": True}


def test_timeline_names_the_rule_and_links_its_explanation(web: WebDesk) -> None:
    from flowdesk.automation.services import check_import_yaml

    rules = """
version: 1
rules:
  - name: printer-goes-to-tier-1
    triggers: [created]
    conditions:
      all: [{field: subject, op: contains, value: printer}]
    actions: [{type: assign_team, team: Tier 1}, {type: set_priority, value: high}]
"""
    check_import_yaml(rules, source="test", author=web.admin, comment="")
    t = ticket(web, "Printer on fire")
    page = _client(web.alice).get(f"/agent/tickets/{t.pk}").content.decode()
    assert "rule “printer-goes-to-tier-1” changed priority from normal to high" in page
    link = re.search(r'href="(/agent/tickets/\d+/explanation\?update=\d+)"', page)
    assert link
    explained = _client(web.alice).get(link.group(1))
    assert explained.status_code == 200
    assert "fired  printer-goes-to-tier-1" in explained.content.decode()


def test_a_rule_reply_without_an_author_is_shown(web: WebDesk) -> None:
    """A rule's reply has no author (author kind "system"): the page names the kind instead."""
    from flowdesk.automation.services import check_import_yaml

    rules = """
version: 1
rules:
  - name: acknowledge
    triggers: [created]
    actions: [{type: reply, body: "We got your message."}]
"""
    check_import_yaml(rules, source="test", author=web.admin, comment="")
    t = ticket(web, "Printer on fire", team="Tier 1")
    r = _client(web.alice).get(f"/agent/tickets/{t.pk}")
    assert r.status_code == 200
    page = r.content.decode()
    assert "We got your message." in page
    assert "<strong>system</strong>" in page


def test_the_demo_prints_a_sign_in_that_works(db: Any) -> None:
    from django.core.management import call_command

    out = StringIO()
    call_command("demo", tickets=3, stdout=out)
    printed = out.getvalue()
    found = re.search(r"at /login as (\S+) or an agent \((\S+?)[,)].*password: (\S+)", printed)
    assert found, printed
    admin, agent, password = found.groups()
    for email in (admin, agent):
        client = Client()
        page = client.get("/login").content.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token
        data = {"csrfmiddlewaretoken": token.group(1), "username": email, "password": password}
        r = client.post("/login", data)
        assert r.status_code == 302, (email, r.content.decode()[:300])
        assert client.get("/agent/").status_code == 200
