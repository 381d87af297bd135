"""Merging customers and tickets, and undoing it, through the API and the CLI; concurrent merges
on PostgreSQL (docs/customers.md)."""

from __future__ import annotations

import threading
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from api_helpers import Api, Desk

pytestmark = pytest.mark.django_db


def _customer(desk: Desk, email: str, **fields: Any) -> int:
    r = desk.agent.post("/customers", {"email": email, **fields})
    assert r.status == 201, r
    pk: int = r.data["id"]
    return pk


def _ticket(desk: Desk, requester: str, subject: str = "Help") -> int:
    r = desk.agent.post(
        "/tickets", {"subject": subject, "body": "Please help.", "requester_email": requester}
    )
    assert r.status == 201, r
    pk: int = r.data["id"]
    return pk


def _state(desk: Desk, customer: int) -> dict[str, Any]:
    from flowdesk.accounts.models import User
    from flowdesk.tickets.models import Message, Ticket

    user = User.objects.get(pk=customer)
    return {
        "identities": desk.agent.get(f"/customers/{customer}/identities").data
        if user.merged_into_id is None
        else None,
        "tickets": sorted(Ticket.objects.filter(requester=user).values_list("pk", flat=True)),
        "messages": sorted(Message.objects.filter(author=user).values_list("pk", flat=True)),
        "active": user.is_active,
        "organization": user.organization_id,
        "merged_into": user.merged_into_id,
    }


def _kinds(desk: Desk, ticket: int) -> list[str]:
    return [e["kind"] for e in desk.admin.get(f"/tickets/{ticket}/events").data]


def test_merge_moves_everything_and_unmerge_restores_exactly(desk: Desk) -> None:
    from flowdesk.accounts.identities import customer_for_address
    from flowdesk.accounts.models import User
    from flowdesk.accounts.services import do_create_token

    cora = desk.agent.get("/customers", q="cora@acme.test").data["items"][0]["id"]
    home = _customer(desk, "cora@home.test", name="Cora")
    phone = {"kind": "phone", "value": "+14155550100"}
    assert desk.agent.post(f"/customers/{home}/identities", phone).status == 201
    home_api = Api(do_create_token(User.objects.get(pk=home), "t")[1])
    mine = _ticket(desk, desk.customer_email, "Cora's own")
    first = _ticket(desk, "cora@home.test", "From home")
    second = _ticket(desk, "cora@home.test", "Also from home")
    assert home_api.post(f"/tickets/{first}/messages", {"body": "any news?"}).status == 201
    before_home, before_cora = _state(desk, home), _state(desk, cora)
    events_before = {t: _kinds(desk, t) for t in (first, second, mine)}

    r = desk.agent.post(f"/customers/{home}/merge", {"into": cora})
    assert r.status == 200, r
    assert r.data["tickets"] == [first, second]
    assert len(r.data["messages"]) == 3  # two requests and one reply
    after = _state(desk, home)
    assert after == {
        "identities": None,
        "tickets": [],
        "messages": [],
        "active": False,
        "organization": None,
        "merged_into": cora,
    }
    survivor = _state(desk, cora)
    assert survivor["tickets"] == sorted([mine, first, second])
    assert [(i["value"], i["primary"]) for i in survivor["identities"]] == [
        ("cora@acme.test", True),
        ("cora@home.test", False),
        ("+14155550100", False),
    ]
    assert customer_for_address("cora@home.test") == (User.objects.get(pk=cora), True)
    # The tombstone points to the survivor, and cannot sign in any more.
    old = desk.agent.client.get(f"/api/customers/{home}")
    assert old.status_code == 307
    assert old["Location"] == f"/api/customers/{cora}"
    assert home_api.get("/me").status == 401
    # The directory lists live customers; the tombstone only when merged ones are asked for.
    listed = [c["id"] for c in desk.agent.get("/customers", q="home.test").data["items"]]
    assert listed == []
    gone = desk.agent.get("/customers", q="home.test", merged="true").data["items"]
    assert [(c["id"], c["merged_into"], c["active"]) for c in gone] == [(home, cora, False)]
    # An event on each moved ticket, none on the untouched one.
    for t in (first, second):
        assert _kinds(desk, t) == [*events_before[t], "customer_merged"]
    assert _kinds(desk, mine) == events_before[mine]
    merged = desk.admin.get(f"/tickets/{first}/events").data[-1]
    assert merged["data"] == {"merge": r.data["id"], "from": home, "into": cora}
    # A new ticket for the old address goes to the survivor.
    assert (
        desk.agent.get(f"/tickets/{_ticket(desk, 'cora@home.test')}").data["requester"]["id"]
        == cora
    )

    undo = desk.agent.post(f"/customers/{home}/unmerge")
    assert undo.status == 200, undo
    assert undo.data["undone_at"] is not None
    restored = _state(desk, home)
    assert restored == before_home
    back = _state(desk, cora)
    assert back["identities"] == before_cora["identities"]
    assert len(back["tickets"]) == len(before_cora["tickets"]) + 1  # the one made since stays
    for t in (first, second):
        assert _kinds(desk, t) == [*events_before[t], "customer_merged", "customer_unmerged"]
    assert desk.agent.post(f"/customers/{home}/unmerge").status == 409
    again = desk.agent.get("/customers", q="home.test").data["items"]
    assert [(c["id"], c["merged_into"]) for c in again] == [(home, None)]


def test_merge_and_unmerge_refusals_name_the_reason(desk: Desk) -> None:
    cora = desk.agent.get("/customers", q="cora@acme.test").data["items"][0]["id"]
    finn = desk.agent.get("/customers", q="finn@free.test").data["items"][0]["id"]
    home = _customer(desk, "cora@home.test")
    _ticket(desk, "cora@home.test")
    r = desk.agent.post(f"/customers/{home}/merge", {"into": home})
    assert r.status == 422
    assert r.data["errors"][0]["field"] == "into"
    r = desk.agent.post(f"/customers/{home}/merge", {"into": 999999})
    assert r.status == 422
    assert r.data["errors"][0] == {"field": "into", "message": "no customer with id 999999"}
    assert desk.customer.post(f"/customers/{home}/merge", {"into": cora}).status == 403
    assert desk.agent.post(f"/customers/{home}/unmerge").status == 409
    assert desk.agent.post(f"/customers/{home}/merge", {"into": cora}).status == 200
    again = desk.agent.post(f"/customers/{home}/merge", {"into": finn})
    assert again.status == 409
    assert "already merged" in again.data["detail"]
    into_tombstone = desk.agent.post(f"/customers/{finn}/merge", {"into": home})
    assert into_tombstone.status == 409
    assert f"merge into {cora} instead" in into_tombstone.data["detail"]
    # The survivor merged on: undoing the first merge could not be exact.
    assert desk.agent.post(f"/customers/{cora}/merge", {"into": finn}).status == 200
    refused = desk.agent.post(f"/customers/{home}/unmerge")
    assert refused.status == 409, refused
    assert "unmerge that first" in refused.data["detail"]
    assert desk.agent.post(f"/customers/{cora}/unmerge").status == 200
    assert desk.agent.post(f"/customers/{home}/unmerge").status == 200


def test_unmerge_is_refused_when_a_moved_identity_is_gone(desk: Desk) -> None:
    cora = desk.agent.get("/customers", q="cora@acme.test").data["items"][0]["id"]
    home = _customer(desk, "cora@home.test")
    phone = desk.agent.post(
        f"/customers/{home}/identities", {"kind": "phone", "value": "+14155550100"}
    ).data
    assert desk.agent.post(f"/customers/{home}/merge", {"into": cora}).status == 200
    gone = desk.agent.call("DELETE", f"/customers/{cora}/identities/{phone['id']}")
    assert gone.status == 204
    refused = desk.agent.post(f"/customers/{home}/unmerge")
    assert refused.status == 409
    assert "identities the merge moved" in refused.data["detail"]


def test_ticket_merge_shows_one_conversation_and_unmerge_restores_it(desk: Desk) -> None:
    from flowdesk.tickets.models import Ticket

    first = _ticket(desk, desk.customer_email, "Printer")
    second = _ticket(desk, desk.customer_email, "Printer again")
    desk.customer.post(f"/tickets/{first}/messages", {"body": "still broken"})
    before = {t: desk.agent.get(f"/tickets/{t}/messages").data for t in (first, second)}
    events_before = {t: desk.admin.get(f"/tickets/{t}/events").data for t in (first, second)}

    r = desk.agent.post(f"/tickets/{first}/merge", {"into": second})
    assert r.status == 200, r
    assert r.data["messages"] == [m["id"] for m in before[first]]
    target = desk.agent.get(f"/tickets/{second}/messages").data
    assert sorted(m["id"] for m in target) == sorted(
        m["id"] for m in before[first] + before[second]
    )
    source = desk.agent.get(f"/tickets/{first}").data
    assert source["status"] == "closed"
    assert Ticket.objects.get(pk=first).merged_into_id == second
    notes = desk.agent.get(f"/tickets/{first}/messages").data
    assert [n["body"] for n in notes] == [
        f"Merged into #{second}: its conversation holds these messages."
    ]
    assert desk.agent.get(f"/tickets/{second}").data["message_count"] == len(target)
    for t in (first, second):
        events = desk.admin.get(f"/tickets/{t}/events").data
        assert events[: len(events_before[t])] == events_before[t]  # history is untouched
        assert "ticket_merged" in [e["kind"] for e in events[len(events_before[t]) :]]
    # A customer sees the merged conversation too, but no internal note.
    assert len(desk.customer.get(f"/tickets/{second}/messages").data) == len(target)
    assert desk.agent.post(f"/tickets/{first}/merge", {"into": second}).status == 409

    undo = desk.agent.post(f"/tickets/{first}/unmerge")
    assert undo.status == 200, undo
    assert desk.agent.get(f"/tickets/{second}/messages").data == before[second]
    back = [m["id"] for m in desk.agent.get(f"/tickets/{first}/messages").data]
    assert back[: len(before[first])] == [m["id"] for m in before[first]]
    assert desk.agent.get(f"/tickets/{first}").data["status"] == "new"
    assert Ticket.objects.get(pk=first).merged_into_id is None
    assert "ticket_unmerged" in _kinds(desk, second)
    assert desk.agent.post(f"/tickets/{first}/unmerge").status == 409


def test_ticket_merge_needs_one_requester(desk: Desk) -> None:
    mine = _ticket(desk, desk.customer_email)
    finns = _ticket(desk, desk.other_customer_email)
    r = desk.agent.post(f"/tickets/{mine}/merge", {"into": finns})
    assert r.status == 422, r
    assert r.data["errors"][0]["field"] == "into"
    assert "merge the customers first" in r.data["errors"][0]["message"]
    assert desk.agent.post(f"/tickets/{mine}/merge", {"into": mine}).status == 422
    assert desk.customer.post(f"/tickets/{mine}/merge", {"into": finns}).status == 403
    # After the customers are merged, their tickets can be.
    cora = desk.agent.get(f"/tickets/{mine}").data["requester"]["id"]
    finn = desk.agent.get(f"/tickets/{finns}").data["requester"]["id"]
    assert desk.agent.post(f"/customers/{finn}/merge", {"into": cora}).status == 200
    assert desk.agent.post(f"/tickets/{finns}/merge", {"into": mine}).status == 200


def test_cli_merges_lists_and_unmerges(desk: Desk) -> None:
    cora = desk.agent.get("/customers", q="cora@acme.test").data["items"][0]["id"]
    home = _customer(desk, "cora@home.test")
    _ticket(desk, "cora@home.test")
    out = StringIO()
    call_command("customers", "merge", "cora@home.test", str(cora), stdout=out)
    assert f"merged customer {home} into {cora}" in out.getvalue()
    assert "1 ticket(s)" in out.getvalue()
    out = StringIO()
    call_command("customers", "identities", "cora@acme.test", stdout=out)
    lines = [line.split("\t")[1:] for line in out.getvalue().splitlines()]
    assert lines == [
        ["email", "cora@acme.test", "verified primary"],
        ["email", "cora@home.test", "verified"],
    ]
    with pytest.raises(CommandError, match="already merged"):
        call_command("customers", "merge", str(home), str(cora))
    out = StringIO()
    call_command("customers", "unmerge", str(home), stdout=out)
    assert f"unmerged customer {home} from {cora}" in out.getvalue()
    with pytest.raises(CommandError, match="no customer"):
        call_command("customers", "identities", "nobody@x.test")


# --- concurrency (PostgreSQL: real row locks) -------------------------------------------------


def _race(calls: list[Any]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    return results


def _no_cycle_and_whole() -> None:
    from flowdesk.accounts.models import CustomerMerge, Role, User
    from flowdesk.tickets.models import Ticket

    for user in User.objects.filter(role=Role.CUSTOMER):
        seen = set()
        while user.merged_into_id is not None:
            assert user.pk not in seen, "a merge cycle"
            seen.add(user.pk)
            assert not user.is_active
            user = User.objects.get(pk=user.merged_into_id)
    for merge in CustomerMerge.objects.filter(undone_at__isnull=True):
        # no half merge: nothing the merge moved is left on its source
        assert not Ticket.objects.filter(requester=merge.source).exists()
        assert not merge.source.identities.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("shape", ["same pair", "chain"])
def test_concurrent_merges_never_leave_a_cycle_or_half_merge(desk: Desk, shape: str) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite runs one writer at a time")
    from flowdesk.accounts.merge import check_merge_customers
    from flowdesk.core.clock import utcnow
    from flowdesk.core.errors import Conflict

    a, b, c = (_customer(desk, f"{n}@race.test") for n in "abc")
    for email in ("a@race.test", "b@race.test", "c@race.test"):
        _ticket(desk, email)

    def merge(s: int, t: int) -> Any:
        return lambda: check_merge_customers(s, t, actor=None, now=utcnow())

    calls = [merge(a, b), merge(b, a)] if shape == "same pair" else [merge(a, b), merge(b, c)]
    results = _race(calls)
    errors = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(e, Conflict) for e in errors), errors
    if shape == "same pair":
        assert len(errors) == 1, results  # exactly one wins
    _no_cycle_and_whole()
    # A cycle closed by a third merge is refused too.
    from flowdesk.accounts.models import User

    live = [u.pk for u in User.objects.filter(pk__in=[a, b, c], merged_into__isnull=True)]
    for src in (a, b, c):
        if src not in live:
            with pytest.raises(Conflict):
                check_merge_customers(live[0], src, actor=None, now=utcnow())
    _no_cycle_and_whole()
