"""Routing through the REST API: agent availability, capacity and skills, the three strategies,
team defaults and the rule action, return timers (fired by calling ``do_timer_update``), and the
concurrency guarantee (threads creating tickets at once through the API)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from api_helpers import Api, ApiResponse, Desk

AGENTS = ("ann@desk.test", "bob@desk.test", "cy@desk.test")


def _put(api: Api, path: str, body: Any) -> ApiResponse:
    return api.call("PUT", path, body)


def _token(api: Api) -> str:
    return str(api.client.defaults["HTTP_AUTHORIZATION"]).split()[1]


class Support:
    """A team of three agents with their own tokens."""

    def __init__(self, desk: Desk) -> None:
        from flowdesk.accounts.models import User
        from flowdesk.accounts.services import do_create_token

        self.desk = desk
        self.ids: dict[str, int] = {}
        for email in AGENTS:
            r = desk.admin.post("/agents", {"email": email, "name": email.split("@")[0]})
            assert r.status == 201, r
            self.ids[email] = r.data["id"]
        r = desk.admin.post("/teams", {"name": "Support", "members": list(AGENTS)})
        assert r.status == 201, r
        self.team_id = r.data["id"]
        self.apis = {e: Api(do_create_token(User.objects.get(email=e), "t")[1]) for e in AGENTS}

    def settings(self, **body: Any) -> dict[str, Any]:
        r = self.desk.admin.patch(f"/teams/{self.team_id}/routing", body)
        assert r.status == 200, r
        return dict(r.data)

    def agent(self, email: str, **body: Any) -> dict[str, Any]:
        r = self.desk.admin.patch(f"/agents/{self.ids[email]}/routing", body)
        assert r.status == 200, r
        return dict(r.data)

    def ticket(self, **fields: Any) -> dict[str, Any]:
        body = {"subject": "Help", "body": "Please.", "requester_email": "req@example.org"}
        body.update({"team": "Support", **fields})
        r = self.desk.agent.post("/tickets", body)
        assert r.status == 201, r
        return dict(r.data)

    def routed(self, ticket_id: int) -> list[dict[str, Any]]:
        events = self.desk.admin.get(f"/tickets/{ticket_id}/events").data
        return [e for e in events if e["kind"] == "routed"]


@pytest.fixture
def support(desk: Desk) -> Support:
    return Support(desk)


# --- agents' routing profiles -----------------------------------------------------------------


def test_agent_profile_defaults_and_updates(support: Support) -> None:
    desk = support.desk
    ann = support.ids["ann@desk.test"]
    r = desk.agent.get(f"/agents/{ann}/routing")
    assert r.status == 200, r
    assert r.data["availability"] == "online"
    assert r.data["available"] is True
    assert r.data["capacity"] is None
    assert r.data["skills"] == []
    out = support.agent("ann@desk.test", capacity=3, skills=["German", "billing"])
    assert out["capacity"] == 3
    assert out["skills"] == ["billing", "german"]
    # only admins change profiles; customers read nothing
    assert desk.agent.patch(f"/agents/{ann}/routing", {"capacity": 1}).status == 403
    assert desk.customer.get(f"/agents/{ann}/routing").status == 403
    bad = desk.admin.patch(f"/agents/{ann}/routing", {"skills": ["two words"], "capacity": -1})
    assert bad.status == 422, bad
    fields = {e["field"] for e in bad.data["errors"]}
    assert "capacity" in fields


def test_schedule_is_validated_and_decides_availability(support: Support) -> None:
    desk = support.desk
    ann = support.ids["ann@desk.test"]
    bad = desk.admin.patch(
        f"/agents/{ann}/routing",
        {
            "schedule": {
                "time_zone": "Europe/Berlin",
                "weekly": {"mon": [{"start": "09:00", "end": "25:00"}]},
            }
        },
    )
    assert bad.status == 422, bad
    assert any(e["field"].startswith("schedule.weekly.mon") for e in bad.data["errors"]), bad
    # A schedule that is never open: ann is online but not available.
    never = {"time_zone": "UTC", "weekly": {}}
    out = support.agent("ann@desk.test", schedule=never)
    assert out["availability"] == "online"
    assert out["available"] is False
    assert out["unavailable_reason"] == "outside working hours"
    always = {
        "time_zone": "UTC",
        "weekly": {
            d: [{"start": "00:00", "end": "24:00"}]
            for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        },
    }
    assert support.agent("ann@desk.test", schedule=always)["available"] is True
    assert support.agent("ann@desk.test", schedule=None)["schedule"] is None


def test_me_availability(support: Support) -> None:
    api = support.apis["bob@desk.test"]
    r = _put(api, "/me/availability", {"availability": "away"})
    assert r.status == 200, r
    assert r.data["availability"] == "away"
    assert r.data["available"] is False
    assert _put(api, "/me/availability", {"availability": "gone"}).status == 422
    assert _put(support.desk.customer, "/me/availability", {"availability": "online"}).status == 403


def test_team_routing_settings(support: Support) -> None:
    desk = support.desk
    r = desk.agent.get(f"/teams/{support.team_id}/routing")
    assert r.status == 200, r
    assert r.data["strategy"] is None
    assert r.data["strategies"] == ["least_open", "round_robin", "skills"]
    out = support.settings(strategy="round_robin", return_after="1h30m", reassign_when_offline=True)
    assert out["return_after"] == "1h30m"
    assert out["reassign_when_offline"] is True
    bad = desk.admin.patch(
        f"/teams/{support.team_id}/routing", {"strategy": "random", "return_after": "soon"}
    )
    assert bad.status == 422, bad
    assert {e["field"] for e in bad.data["errors"]} == {"strategy", "return_after"}
    assert desk.agent.patch(f"/teams/{support.team_id}/routing", {"strategy": None}).status == 403


# --- strategies -------------------------------------------------------------------------------


def test_round_robin_rotates_with_a_pointer(support: Support) -> None:
    support.settings(strategy="round_robin")
    got = [support.ticket()["assignee"] for _ in range(4)]
    assert got == [*AGENTS, AGENTS[0]]
    from flowdesk.routing.models import TeamRouting

    assert (
        TeamRouting.objects.get(team_id=support.team_id).rr_last_user_id == support.ids[AGENTS[0]]
    )


def test_round_robin_skips_offline_and_full(support: Support) -> None:
    support.settings(strategy="round_robin")
    support.agent("bob@desk.test", availability="offline")
    support.agent("cy@desk.test", capacity=1)
    got = [support.ticket()["assignee"] for _ in range(3)]
    assert got == ["ann@desk.test", "cy@desk.test", "ann@desk.test"]
    last = support.routed(support.ticket()["id"])[-1]["data"]
    skipped = {c["agent"]: c.get("skipped") for c in last["candidates"]}
    assert skipped == {"ann@desk.test": None, "bob@desk.test": "offline", "cy@desk.test": "full"}


def test_least_open_and_tie_by_longest_wait(support: Support) -> None:
    support.settings(strategy="least_open")
    first = [support.ticket()["assignee"] for _ in range(3)]
    assert first == list(AGENTS)  # all at 0 open: never-assigned first, then id order
    # bob solves his ticket: he has the fewest open
    bob_ticket = next(
        t for t in support.desk.admin.get("/tickets", assignee="bob@desk.test").data["items"]
    )
    r = support.desk.admin.patch(f"/tickets/{bob_ticket['id']}", {"status": "solved"})
    assert r.status == 200, r
    t = support.ticket()
    assert t["assignee"] == "bob@desk.test"
    data = support.routed(t["id"])[-1]["data"]
    assert data["strategy"] == "least_open"
    assert data["reason"] == "fewest open tickets (0)"
    assert {c["agent"]: c["open"] for c in data["candidates"]} == {
        "ann@desk.test": 1,
        "bob@desk.test": 0,
        "cy@desk.test": 1,
    }
    # next: ann and cy have 1 each, bob now too: ann waited longest
    assert support.ticket()["assignee"] == "ann@desk.test"


def test_skills_match_language_product_and_tags(support: Support) -> None:
    from flowdesk.tickets.models import CustomFieldDef

    CustomFieldDef.objects.create(key="language", label="Language", kind="text")
    support.settings(strategy="skills")
    support.agent("ann@desk.test", skills=["german"])
    support.agent("bob@desk.test", skills=["billing", "german"])
    t = support.ticket(custom_fields={"language": "German"}, tags=["billing"])
    assert t["assignee"] == "bob@desk.test"
    data = support.routed(t["id"])[-1]["data"]
    assert "most matching skills (billing, german)" in data["reason"]
    assert support.ticket(custom_fields={"language": "German"})["assignee"] == "ann@desk.test"
    # nobody matches: fewest open tickets
    assert support.ticket(tags=["other"])["assignee"] == "cy@desk.test"


def test_nobody_available_leaves_it_unassigned_and_says_why(support: Support) -> None:
    support.settings(strategy="least_open")
    for email in AGENTS:
        support.agent(email, availability="away" if email == AGENTS[0] else "offline")
    t = support.ticket()
    assert t["assignee"] is None
    (routed,) = support.routed(t["id"])
    assert routed["data"]["assignee"] is None
    assert routed["data"]["reason"] == "no member is available with a free slot"
    assert routed["cause"] == "system"


def test_no_default_strategy_no_routing_and_explicit_assignee_wins(support: Support) -> None:
    t = support.ticket()
    assert t["assignee"] is None
    assert support.routed(t["id"]) == []
    support.settings(strategy="least_open")
    t = support.ticket(assignee="cy@desk.test")
    assert t["assignee"] == "cy@desk.test"
    assert support.routed(t["id"]) == []


def test_reteamed_ticket_is_auto_assigned(support: Support) -> None:
    support.settings(strategy="round_robin")
    t = support.ticket(team="Tier 1")
    assert t["assignee"] is None
    r = support.desk.admin.patch(f"/tickets/{t['id']}", {"team": "Support"})
    assert r.status == 200, r
    assert r.data["assignee"] == "ann@desk.test"
    assert support.routed(t["id"])[-1]["data"]["trigger"] == "team default (moved from Tier 1)"


ASSIGN_RULES = """
version: 1
rules:
  - name: billing-to-support
    triggers: [created]
    conditions: {field: tags, op: has_any, value: [billing]}
    actions: [{type: assign, strategy: round_robin, team: Support}]
"""


def test_assign_action_routes_once_with_the_rule_cause(support: Support) -> None:
    support.settings(strategy="least_open")
    support.agent("ann@desk.test", availability="offline")
    assert support.desk.admin.post("/rules", {"yaml": ASSIGN_RULES}).status == 201
    t = support.ticket(tags=["billing"])
    assert t["assignee"] == "bob@desk.test"
    routed = support.routed(t["id"])
    assert len(routed) == 1  # the team default did not route again
    assert routed[0]["rule"] == "billing-to-support"
    assert routed[0]["data"]["strategy"] == "round_robin"
    events = support.desk.admin.get(f"/tickets/{t['id']}/events").data
    assigned = [e for e in events if e["kind"] == "assigned"]
    assert [(e["new"], e["cause"], e["rule"]) for e in assigned] == [
        ("bob@desk.test", "rule", "billing-to-support")
    ]


def test_bad_assign_rule_is_refused(support: Support) -> None:
    for old, new, where in (("round_robin", "random", "strategy"), ("Support", "Nope", "team")):
        r = support.desk.admin.post("/rules", {"yaml": ASSIGN_RULES.replace(old, new)})
        assert r.status == 422, r
        assert [e["path"] for e in r.data["errors"]] == [f"actions[0].{where}"], r
        assert r.data["errors"][0]["line"] == 7, r


def test_engine_strategy_names_match_the_registry() -> None:
    from flowdesk.engine import ACTIONS
    from flowdesk.engine.routing_actions import STRATEGY_NAMES
    from flowdesk.routing.strategies import STRATEGIES

    assert tuple(STRATEGIES.names()) == STRATEGY_NAMES
    assert "assign" in ACTIONS


# --- return timers ----------------------------------------------------------------------------


def _timer(ticket_id: int, purpose: str) -> Any:
    from flowdesk.timers.models import Timer

    return Timer.objects.filter(ticket_id=ticket_id, purpose=purpose).first()


def _fire(ticket_id: int, purpose: str, after: timedelta) -> bool:
    from flowdesk.core.clock import utcnow
    from flowdesk.tickets.services import do_timer_update

    return do_timer_update(ticket_id, purpose=purpose, now=utcnow() + after)


def test_return_timer_reassigns_a_silent_assignee(support: Support) -> None:
    support.settings(strategy="least_open", return_after="1h")
    t = support.ticket()
    assert t["assignee"] == "ann@desk.test"
    row = _timer(t["id"], "return")
    assert row is not None
    assert row.state["assignee"] == "ann@desk.test"
    assert _fire(t["id"], "return", timedelta(minutes=10)) is False  # not due yet: nothing
    assert _fire(t["id"], "return", timedelta(hours=2)) is True
    after = support.desk.admin.get(f"/tickets/{t['id']}").data
    assert after["assignee"] == "bob@desk.test"
    last = support.routed(t["id"])[-1]
    assert last["cause"] == "timer"
    assert last["data"]["trigger"] == "return timer: no public reply since the assignment"
    skipped = {c["agent"]: c.get("skipped") for c in last["data"]["candidates"]}
    assert skipped["ann@desk.test"] == "previous assignee"
    row = _timer(t["id"], "return")
    assert row.state["assignee"] == "bob@desk.test"
    assert row.due_at is not None


def test_reply_cancels_the_return_timer(support: Support) -> None:
    support.settings(strategy="least_open", return_after="1h")
    t = support.ticket()
    ann = support.apis["ann@desk.test"]
    r = ann.post(f"/tickets/{t['id']}/messages", {"body": "On it."})
    assert r.status == 201, r
    row = _timer(t["id"], "return")
    assert row.due_at is None
    assert row.state["replied"] is True
    assert _fire(t["id"], "return", timedelta(hours=2)) is False
    assert support.desk.admin.get(f"/tickets/{t['id']}").data["assignee"] == "ann@desk.test"


def test_offline_assignee_is_returned_even_after_replying(support: Support) -> None:
    support.settings(strategy="least_open", return_after="1h", reassign_when_offline=True)
    t = support.ticket()
    ann = support.apis["ann@desk.test"]
    assert ann.post(f"/tickets/{t['id']}/messages", {"body": "On it."}).status == 201
    assert _put(ann, "/me/availability", {"availability": "offline"}).status == 200
    row = _timer(t["id"], "return")
    assert row.due_at is not None  # going offline brought the return forward
    assert _fire(t["id"], "return", timedelta(seconds=1)) is True
    assert support.desk.admin.get(f"/tickets/{t['id']}").data["assignee"] == "bob@desk.test"
    assert support.routed(t["id"])[-1]["data"]["trigger"] == "return timer: assignee is offline"


def test_return_with_nobody_else_keeps_the_assignee_and_retries(support: Support) -> None:
    support.settings(strategy="round_robin", return_after="30m")
    t = support.ticket()
    for email in AGENTS[1:]:
        support.agent(email, availability="offline")
    assert _fire(t["id"], "return", timedelta(hours=1)) is True
    assert support.desk.admin.get(f"/tickets/{t['id']}").data["assignee"] == "ann@desk.test"
    row = _timer(t["id"], "return")
    assert row.state["retries"] == 1
    assert row.due_at is not None


def test_solving_removes_the_return_timer(support: Support) -> None:
    support.settings(strategy="least_open", return_after="1h")
    t = support.ticket()
    assert _timer(t["id"], "return") is not None
    assert support.desk.admin.patch(f"/tickets/{t['id']}", {"status": "solved"}).status == 200
    assert _timer(t["id"], "return") is None


def test_one_timer_round_never_gives_one_free_slot_twice(support: Support) -> None:
    """Two return timers due in the same round (one write for the whole round) both look for a
    new assignee while only one slot is free: the second firing sees the first's assignment."""
    from flowdesk.core.clock import travel, utcnow
    from flowdesk.tickets.models import Ticket
    from flowdesk.timers.services import fire_due

    support.settings(strategy="least_open", return_after="1h")
    for email in AGENTS[1:]:
        support.agent(email, availability="offline")
    first, second = support.ticket(subject="One"), support.ticket(subject="Two")
    assert first["assignee"] == second["assignee"] == "ann@desk.test"
    support.agent("bob@desk.test", availability="online", capacity=1)
    with travel(utcnow() + timedelta(hours=2)):
        firings = fire_due("w1")
    assert [f.recorded for f in firings] == [True, True], firings
    owner = dict(
        Ticket.objects.filter(pk__in=[first["id"], second["id"]]).values_list(
            "pk", "assignee__email"
        )
    )
    assert sorted(owner.values()) == ["ann@desk.test", "bob@desk.test"], owner
    kept = next(pk for pk, email in owner.items() if email == "ann@desk.test")
    assert _timer(kept, "return").state["retries"] == 1
    candidates = {c["agent"]: c for c in support.routed(kept)[-1]["data"]["candidates"]}
    assert candidates["bob@desk.test"].get("skipped"), candidates


# --- concurrency --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_never_overfill_an_agent(desk: Desk) -> None:
    from flowdesk.tickets.models import Ticket

    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite" and (name in ("", ":memory:") or "mode=memory" in name):
        pytest.skip("an in-memory SQLite database is private to one connection")
    support = Support(desk)
    support.settings(strategy="least_open")
    for email in AGENTS:
        support.agent(email, capacity=1)
    token = _token(desk.agent)
    n = 12
    barrier = threading.Barrier(n)
    results: list[int] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        status = 0
        try:
            api = Api(token)
            barrier.wait(timeout=30)
            status = api.post(
                "/tickets",
                {
                    "subject": f"Race {i}",
                    "body": "x",
                    "requester_email": "r@x.org",
                    "team": "Support",
                },
            ).status
        except Exception:  # the test client re-raises a view's exception: that was a 500
            status = 500
        finally:
            connection.close()
            with lock:
                results.append(status)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert sorted(results) == [201] * n
    assigned = list(
        Ticket.objects.filter(team__name="Support", assignee__isnull=False).values_list(
            "assignee__email", flat=True
        )
    )
    assert sorted(assigned) == sorted(AGENTS)  # one each: nobody got two with one slot
    assert Ticket.objects.filter(team__name="Support", assignee__isnull=True).count() == n - 3
