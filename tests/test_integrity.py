"""Concurrency, immutability and the engine <-> Django seam."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from api_helpers import Api, Desk
from flowdesk.engine import ACTIONS
from flowdesk.tickets.models import ImmutableEventError, TicketEvent


@pytest.mark.django_db(transaction=True)
def test_concurrent_updates_on_one_version_one_wins(desk: Desk) -> None:
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and (name in ("", ":memory:") or "mode=memory" in name):
        pytest.skip("an in-memory SQLite database is private to one connection")
    t = desk.agent.post("/tickets", {"subject": "Race", "body": "x", "requester_email": "r@x.org"})
    token = desk.agent.client.defaults["HTTP_AUTHORIZATION"].split()[1]
    results: list[int] = []
    barrier = threading.Barrier(2)

    def worker(priority: str) -> None:
        api = Api(token)
        barrier.wait()
        results.append(
            api.patch(f"/tickets/{t.data['id']}", {"version": 1, "priority": priority}).status
        )
        connection.close()

    threads = [threading.Thread(target=worker, args=(p,)) for p in ("high", "low")]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(results) == [200, 409]
    final = desk.agent.get(f"/tickets/{t.data['id']}").data
    assert final["version"] == 2
    assert final["priority"] in ("high", "low")
    changes = [
        e
        for e in desk.agent.get(f"/tickets/{t.data['id']}/events").data
        if e["field"] == "priority"
    ]
    assert len(changes) == 1
    assert changes[0]["new"] == final["priority"]


def test_events_are_immutable(desk: Desk) -> None:
    desk.customer.post("/tickets", {"subject": "s", "body": "b"})
    event = TicketEvent.objects.first()
    assert event is not None
    event.data = {"tampered": True}
    with pytest.raises(ImmutableEventError):
        event.save()
    with pytest.raises(ImmutableEventError):
        event.delete()


EVERY_EFFECT = """
version: 1
templates:
  t: {subject: "S {{ ticket.id }}", body: "Body for {{ requester.name }}"}
rules:
  - name: everything
    triggers: [created]
    actions:
      - {type: add_note, body: "note on {{ subject }}"}
      - {type: reply, template: t}
      - {type: notify, team: Tier 1, message: "look"}
      - {type: webhook, url: "http://127.0.0.1:9/x"}
      - {type: send_survey, survey: nps}
      - {type: escalate, team: Tier 2, priority: raise, reason: "because"}
      - {type: add_follower, agent: alice@desk.test}
      - {type: set_field, field: custom.plan, value: pro}
      - {type: set_type, value: incident}
      - {type: set_status, value: open}
      - {type: add_tags, tags: [a, b]}
      - {type: remove_tags, tags: [b]}
      - {type: assign_agent, agent: carol@desk.test}
  - name: after-stop
    triggers: [created]
    actions: [{type: stop}]
  - name: never
    triggers: [created]
    actions: [{type: set_tags, tags: [never]}]
"""


def test_every_action_type_applies_through_the_api(desk: Desk) -> None:
    used = {
        line.split("type: ")[1].split(",")[0].split("}")[0]
        for line in EVERY_EFFECT.splitlines()
        if "type: " in line
    }
    # Every registered action appears here (unassign/assign_team/set_priority are covered by the
    # demo tests; assign/escalate_along by tests/test_routing.py and test_escalation_paths.py),
    # so a new action without a Django applier fails this test.
    elsewhere = {"unassign", "assign_team", "set_priority", "set_tags", "assign", "escalate_along"}
    assert set(ACTIONS.names()) - used <= elsewhere
    hook = {"name": "x", "url": "http://127.0.0.1:9/x", "allow_private": True}
    assert desk.admin.post("/webhooks", hook).status == 201
    assert desk.admin.post("/rules", {"yaml": EVERY_EFFECT}).status == 201
    t = desk.agent.post(
        "/tickets",
        {"subject": "All", "body": "x", "requester_email": "e@x.org", "requester_name": "Eve"},
    ).data
    assert t["status"] == "open"
    assert t["type"] == "incident"
    assert t["tags"] == ["a"]
    assert t["custom_fields"] == {"plan": "pro"}
    assert t["assignee"] == "carol@desk.test"
    assert t["team"] == "Tier 2"
    assert t["priority"] == "high"
    assert t["followers"] == ["alice@desk.test"]
    events = desk.agent.get(f"/tickets/{t['id']}/events").data
    kinds = [e["kind"] for e in events]
    assert "automation_error" not in kinds, [e for e in events if e["kind"] == "automation_error"]
    assert "escalated" in kinds
    assert "note_added" in kinds
    outbox = sorted(i["kind"] for i in desk.agent.get("/outbox", ticket=t["id"]).data["items"])
    assert outbox == ["notify", "reply", "survey", "webhook"]
    reply = next(i for i in desk.agent.get("/outbox", kind="reply").data["items"])
    # The ticket token is added to a rule's own subject (flowdesk.mail.outgoing): replies thread.
    assert reply["payload"]["subject"] == f"S {t['id']} [#{t['id']}]"
    assert reply["payload"]["body"] == "Body for Eve"
    fired = [e["rule"] for e in events if e["kind"] == "rule_fired"]
    assert fired == ["everything", "after-stop"]  # stop kept `never` from running
    msgs = desk.agent.get(f"/tickets/{t['id']}/messages").data
    assert any(not m["public"] and m["body"] == "note on All" for m in msgs)


def test_demo_seed_and_home_page(db: Any, client: Any) -> None:
    from django.core.management import call_command

    from flowdesk.tickets.models import Ticket

    call_command("demo", tickets=25, verbosity=0)
    assert Ticket.objects.count() == 25
    assert Ticket.objects.filter(team__isnull=True).count() == 0
    assert TicketEvent.objects.filter(kind="rule_fired").count() >= 25
    assert Ticket.objects.filter(
        organization__attributes__tier="enterprise", priority="urgent"
    ).exists()
    page = client.get("/")
    assert page.status_code == 200
    body = page.content.decode()
    # The landing page is public: it names the product, never the desk's data (test_hard_edges).
    assert "flowdesk" in body
    assert "25 tickets" not in body
    assert "enterprise-first" not in body
