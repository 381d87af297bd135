"""The inbox: views and their counts, search, sorting, keyset pages, team scope, and the number
of SQL statements per page (it must not grow with the page size)."""

from __future__ import annotations

import re
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from web_helpers import WebDesk, ticket


def _ids(page: Any) -> list[int]:
    return [int(n) for n in re.findall(r'href="/agent/tickets/(\d+)" class="ticket-link"', page)]


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _counts(page: str) -> dict[str, int]:
    found = re.findall(r'id="view-(\w+)".*?<span class="count"[^>]*>(\d+)', page, re.S)
    return {k: int(v) for k, v in found}


def test_views_counts_and_team_scope(web: WebDesk) -> None:
    mine = ticket(web, "Mine and urgent", priority="urgent", assignee="alice@desk.test")
    ticket(web, "Untriaged")
    ticket(web, "Tier 1 pending", team="Tier 1", status="pending")
    secret = ticket(web, "Tier 2 only", team="Tier 2", priority="urgent")
    ticket(web, "Solved one", team="Tier 1", status="solved")
    alice = _client(web.alice)
    page = alice.get("/agent/").content.decode()
    assert _counts(alice.get("/agent/counts").content.decode()) == {
        "mine": 1,
        "unassigned": 2,  # untriaged + Tier 1 pending; the Tier 2 ticket is out of her scope
        "teams": 1,
        "urgent": 1,
        "pending": 1,
        "solved": 1,
        "all": 4,  # everything in her scope
    }
    assert _ids(page) == [mine.pk]
    urgent = alice.get("/agent/?view=urgent").content.decode()
    assert _ids(urgent) == [mine.pk]
    assert "Tier 2 only" not in urgent
    # The ticket page answers like the API: a ticket outside her teams does not exist for her.
    assert alice.get(f"/agent/tickets/{secret.pk}").status_code == 404
    r = alice.post(f"/agent/tickets/{secret.pk}/messages", {"body": "x", "kind": "note"})
    assert r.status_code == 404
    r = alice.post(f"/agent/tickets/{secret.pk}/fields", {"status": "open", "orig_status": "new"})
    assert r.status_code == 404
    assert alice.get(f"/agent/tickets/{secret.pk}/explanation").status_code == 404
    # Carol (Tier 2) and the admin see it.
    assert _client(web.carol).get(f"/agent/tickets/{secret.pk}").status_code == 200
    admin = _client(web.admin).get("/agent/?view=urgent").content.decode()
    assert set(_ids(admin)) == {mine.pk, secret.pk}


def test_search_sort_and_keyset_pages(web: WebDesk) -> None:
    made = [
        ticket(web, f"Invoice {n}", minutes_ago=100 - n, priority=p)
        for n, p in enumerate(["low", "urgent", "normal", "high", "normal", "urgent", "low"])
    ]
    ticket(web, "Printer on fire", minutes_ago=1)
    admin = _client(web.admin)
    found = admin.get("/agent/", {"view": "unassigned", "q": "invoice"}).content.decode()
    assert _ids(found) == [t.pk for t in reversed(made)]  # last updated first
    # Every ticket exactly once across keyset pages, in priority order, newest first within.
    seen: list[int] = []
    url = "/agent/?view=unassigned&sort=priority&q=invoice&size=2"
    while url:
        page = admin.get(url).content.decode()
        seen += _ids(page)
        nxt = re.search(r'<a rel="next" href="([^"]+)"', page)
        url = "/agent/" + nxt.group(1).replace("&amp;", "&") if nxt else ""
    rank = {"urgent": 3, "high": 2, "normal": 1, "low": 0}
    expected = sorted(made, key=lambda t: (rank[t.priority], t.updated_at, t.pk), reverse=True)
    assert seen == [t.pk for t in expected]
    # htmx asks for the list alone.
    part = admin.get("/agent/?view=unassigned&q=printer", headers={"HX-Request": "true"})
    assert "<html" not in part.content.decode()
    assert len(_ids(part.content.decode())) == 1
    # A malformed cursor is the first page, never an error.
    assert admin.get("/agent/?after=%%%&sort=created").status_code == 200


def _statements(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_queries_per_page_do_not_grow_with_page_size(web: WebDesk) -> None:
    for n in range(30):
        ticket(web, f"Ticket {n}", team="Tier 1" if n % 2 else None, tags=[f"t{n}"])
    alice = _client(web.alice)
    for sort in ("updated", "priority", "created"):
        small = _statements(alice, f"/agent/?view=unassigned&sort={sort}&size=2")
        large = _statements(alice, f"/agent/?view=unassigned&sort={sort}&size=30")
        assert small == large, sort
    assert small <= 8  # session, user, teams, saved views, the page ids, its rows (no count)
    # The counts: one per view, whatever the page size asked for.
    counts = _statements(alice, "/agent/counts?view=unassigned")
    assert counts == _statements(alice, "/agent/counts?view=unassigned&size=30")
    assert counts <= 12  # session, user, teams (twice: the selector too), saved views, 7 counts


def test_ticket_page_queries_do_not_grow_with_the_conversation(web: WebDesk) -> None:
    from flowdesk.core.clock import utcnow
    from flowdesk.tickets.services import Cause, ChangeSet, NewMessage, check_update_ticket

    short, long = ticket(web, "Short"), ticket(web, "Long")
    for n in range(12):
        author = (web.alice, web.carol, web.cora)[n % 3]
        check_update_ticket(
            long,
            changes=ChangeSet(values={"priority": "high" if n % 2 else "low"})
            if author.is_agent
            else ChangeSet(),
            message=NewMessage(body_text=f"message {n}", public=n % 2 == 0 or not author.is_agent),
            expected_version=None,
            cause=Cause.for_user(author),
            now=utcnow(),
        )
    admin = _client(web.admin)
    assert _statements(admin, f"/agent/tickets/{short.pk}") == _statements(
        admin, f"/agent/tickets/{long.pk}"
    )


def test_view_counts_use_indexes(web: WebDesk) -> None:
    """On SQLite, the plan of every view's count reads the ticket table through an index."""
    if connection.vendor != "sqlite":
        return
    from flowdesk.core.clock import utcnow
    from flowdesk.tickets.selectors import tickets_for
    from flowdesk.web.inbox import VIEWS, capped_count

    ticket(web, "One")
    for user in (web.admin, web.alice):
        teams = list(user.teams.values_list("pk", flat=True))
        for key, view in VIEWS.items():
            qs = tickets_for(user).filter(view.condition(user, teams, utcnow()))
            with CaptureQueriesContext(connection) as ctx:
                capped_count(qs)
            if not ctx.captured_queries:  # "my teams" without teams: nothing to ask
                continue
            sql = ctx.captured_queries[-1]["sql"]
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN QUERY PLAN " + sql)
                plan = [row[-1] for row in cursor.fetchall()]
            scans = [p for p in plan if p.startswith("SCAN tickets_ticket")]
            if key == "all":  # no filter: at most COUNT_CAP + 1 entries of a covering index
                assert all("COVERING INDEX" in p for p in scans), (user.email, plan)
                continue
            assert scans == [], (user.email, key, plan)


def test_counts_load_after_the_list_and_without_javascript_too(
    web: WebDesk, monkeypatch: Any
) -> None:
    from flowdesk.web import inbox

    for n in range(4):
        ticket(web, f"Unassigned {n}")
    ticket(web, "Pending one", team="Tier 1", status="pending")
    alice = _client(web.alice)
    page = alice.get("/agent/?view=pending").content.decode()
    # The list is there; the counts are not: htmx asks for the menu with them once it is shown.
    assert len(_ids(page)) == 1
    assert _counts(page) == {}
    assert 'hx-get="/agent/counts?view=pending" hx-trigger="load"' in page
    # Without JavaScript, a link to the same page with the counts in it.
    assert '<noscript><p><a href="?view=pending&amp;counts=1"' in page
    menu = alice.get("/agent/counts?view=pending", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in menu
    assert "hx-trigger" not in menu
    assert re.search(r'id="view-pending" aria-current="page"', menu)
    inline = alice.get("/agent/?view=pending&counts=1").content.decode()
    assert _counts(inline) == _counts(menu)
    assert _counts(menu)["unassigned"] == 5
    assert _counts(menu)["pending"] == 1
    # Still capped: more than the cap reads as "cap+".
    monkeypatch.setattr(inbox, "COUNT_CAP", 3)
    capped = alice.get("/agent/counts").content.decode()
    assert re.search(r'id="view-unassigned".*?aria-label="more than 3 tickets">3\+', capped, re.S)
    assert re.search(r'id="view-pending".*?aria-label="1 ticket">1<', capped, re.S)
