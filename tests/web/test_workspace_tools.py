"""Saved views (permissions, counts), bulk actions (one update per ticket, mixed outcomes) and
presence (who else is on a ticket, expiring by itself)."""

from __future__ import annotations

import re
from datetime import timedelta

from web_helpers import WebDesk, client_for, listed_ids, ticket


def _saved_counts(page: str) -> dict[str, int]:
    found = re.findall(
        r'id="saved-\d+".*?<span>([^<]+).*?<span class="count"[^>]*>(\d+)', page, re.S
    )
    return {name.strip(): int(n) for name, n in found}


# --- saved views ---------------------------------------------------------------------------


def test_admin_shares_a_view_agents_save_their_own(web: WebDesk) -> None:
    from flowdesk.web.models import SavedView

    urgent = ticket(web, "Server down", priority="urgent", team="Tier 1", tags=["vip"])
    ticket(web, "Hidden urgent", priority="urgent", team="Tier 2", tags=["vip"])
    ticket(web, "Slow login", priority="low", team="Tier 1")
    admin, alice, carol = client_for(web.admin), client_for(web.alice), client_for(web.carol)
    r = admin.post(
        "/agent/views",
        {"name": "Urgent VIP", "shared": "on", "priority": ["urgent", "high"], "tags": "VIP"},
    )
    assert r.status_code == 302
    shared = SavedView.objects.get(name="Urgent VIP")
    assert shared.owner is None
    assert shared.filters == {"priority": ["urgent", "high"], "tags": ["vip"]}
    # An agent cannot share; she may save her own, which nobody else sees.
    assert alice.post("/agent/views", {"name": "Mine too", "shared": "on"}).status_code == 403
    r = alice.post("/agent/views", {"name": "Low ones", "priority": "low", "q": "login"})
    assert r.status_code == 302
    personal = SavedView.objects.get(name="Low ones")
    assert personal.owner == web.alice
    # Counts are live and within each viewer's scope (Tier 2's ticket is not Alice's).
    page = alice.get("/agent/counts").content.decode()
    assert _saved_counts(page) == {"Urgent VIP": 1, "Low ones": 1}
    assert _saved_counts(carol.get("/agent/counts").content.decode()) == {"Urgent VIP": 1}
    assert _saved_counts(admin.get("/agent/?counts=1").content.decode()) == {"Urgent VIP": 2}
    assert listed_ids(alice.get(f"/agent/?saved={shared.pk}").content.decode()) == [urgent.pk]
    # Someone else's personal view is not there: the inbox falls back, delete is 404.
    assert "Low ones" not in carol.get(f"/agent/?saved={personal.pk}").content.decode()
    assert carol.post(f"/agent/views/{personal.pk}/delete").status_code == 404
    # Only admins delete a shared view.
    assert alice.post(f"/agent/views/{shared.pk}/delete").status_code == 403
    assert admin.post(f"/agent/views/{shared.pk}/delete").status_code == 302
    assert alice.post(f"/agent/views/{personal.pk}/delete").status_code == 302
    assert not SavedView.objects.exists()


def test_a_view_is_edited_in_place_by_who_may_manage_it(web: WebDesk) -> None:
    from flowdesk.web.models import SavedView

    low = ticket(web, "Slow login", priority="low", team="Tier 1")
    high = ticket(web, "Slow export", priority="high", team="Tier 1", tags=["reports"])
    admin, alice = client_for(web.admin), client_for(web.alice)
    admin.post("/agent/views", {"name": "Slow", "shared": "on", "priority": "low", "q": "slow"})
    view = SavedView.objects.get(name="Slow")
    form = admin.get(f"/agent/views?edit={view.pk}").content.decode()
    assert "Edit view “Slow”" in form
    assert f'name="view_id" value="{view.pk}"' in form
    assert re.search(r'value="low" checked', form)  # the stored filters fill the form
    assert 'value="slow"' in form
    # An agent may neither open nor change the shared view.
    assert alice.get(f"/agent/views?edit={view.pk}").status_code == 403
    assert alice.post("/agent/views", {"view_id": view.pk, "name": "Mine"}).status_code == 403
    # A bad change is refused, field named, and the stored view is untouched.
    bad = admin.post("/agent/views", {"view_id": view.pk, "name": "Slow", "status": "bogus"})
    assert bad.status_code == 422
    assert "unknown status: bogus" in bad.content.decode()
    view.refresh_from_db()
    assert view.filters == {"priority": ["low"], "q": "slow"}
    r = admin.post(
        "/agent/views",
        {
            "view_id": view.pk,
            "name": "Slow reports",
            "shared": "on",
            "priority": "high",
            "tags": "reports",
            "sort": "priority",
        },
    )
    assert r.status_code == 302
    view.refresh_from_db()
    assert (view.name, view.owner, view.sort) == ("Slow reports", None, "priority")
    assert view.filters == {"priority": ["high"], "tags": ["reports"]}
    assert SavedView.objects.count() == 1  # changed, not copied
    shown = listed_ids(alice.get(f"/agent/?saved={view.pk}").content.decode())
    assert shown == [high.pk]
    assert low.pk not in shown
    assert admin.get("/agent/views?edit=999999").status_code == 404
    assert admin.get("/agent/views?edit=99999999999999999999").status_code == 404


def test_a_bad_view_is_refused_with_the_field_named(web: WebDesk) -> None:
    r = client_for(web.admin).post("/agent/views", {"name": "", "status": "bogus", "sort": "x"})
    assert r.status_code == 422
    page = r.content.decode()
    assert "unknown status: bogus" in page
    assert "a view needs a name" in page


def test_saved_view_filters_match_the_api_list(web: WebDesk) -> None:
    from flowdesk.web.models import SavedView

    a = ticket(web, "Assigned to Alice", assignee="alice@desk.test", status="open")
    ticket(web, "Nobody's", status="open")
    view = SavedView.objects.create(name="Alice open", filters={"assignee": "alice@desk.test"})
    none = SavedView.objects.create(name="No assignee", filters={"assignee": "none"})
    admin = client_for(web.admin)
    assert listed_ids(admin.get(f"/agent/?saved={view.pk}").content.decode()) == [a.pk]
    assert a.pk not in listed_ids(admin.get(f"/agent/?saved={none.pk}").content.decode())


# --- bulk actions ----------------------------------------------------------------------------


def _outcomes(page: str) -> dict[int, str]:
    found = re.findall(r'data-outcome="(\w+)" data-ticket="(\d+)"', page)
    return {int(t): o for o, t in found}


def test_bulk_updates_each_ticket_on_its_own(web: WebDesk) -> None:
    from flowdesk.tickets.models import Ticket

    fresh = ticket(web, "Fresh", team="Tier 1")
    stale = ticket(web, "Stale", team="Tier 1")
    hidden = ticket(web, "Tier 2 only", team="Tier 2")
    shown_version = stale.version
    # Someone changes "Stale" after Alice's list was loaded.
    client_for(web.admin).post(
        f"/agent/tickets/{stale.pk}/fields",
        {"priority": "high", "orig_priority": "normal", "version": stale.version},
    )
    r = client_for(web.alice).post(
        "/agent/bulk",
        {
            "ticket": [
                f"{fresh.pk}:{fresh.version}",
                f"{stale.pk}:{shown_version}",
                f"{hidden.pk}:{hidden.version}",
            ],
            "assignee": "me",
            "status": "pending",
            "add_tags": "billing, VIP",
        },
    )
    assert r.status_code == 200
    page = r.content.decode()
    assert _outcomes(page) == {fresh.pk: "done", stale.pk: "conflict", hidden.pk: "forbidden"}
    assert "not visible to you" in page
    done = Ticket.objects.get(pk=fresh.pk)
    assert (done.assignee, done.status, done.tags) == (web.alice, "pending", ["billing", "vip"])
    assert Ticket.objects.get(pk=stale.pk).assignee is None  # not overwritten
    assert Ticket.objects.get(pk=hidden.pk).status == "new"


def test_bulk_reports_validation_errors_and_unchanged(web: WebDesk) -> None:
    a = ticket(web, "One", priority="high")
    b = ticket(web, "Two")
    alice = client_for(web.alice)
    r = alice.post(
        "/agent/bulk",
        {"ticket": [f"{a.pk}:{a.version}", f"{b.pk}:{b.version}"], "priority": "high"},
        headers={"HX-Request": "true"},
    )
    page = r.content.decode()
    assert "<html" not in page  # the result panel alone
    assert _outcomes(page) == {a.pk: "unchanged", b.pk: "done"}
    r = alice.post("/agent/bulk", {"ticket": [str(a.pk)], "assignee": "nobody@desk.test"})
    assert _outcomes(r.content.decode()) == {a.pk: "invalid"}
    assert "assignee" in r.content.decode()
    assert alice.post("/agent/bulk", {"ticket": [str(a.pk)]}).status_code == 422  # no change
    assert alice.post("/agent/bulk", {"status": "open"}).status_code == 422  # no ticket


# --- presence --------------------------------------------------------------------------------


def test_presence_shows_the_others_and_expires(web: WebDesk) -> None:
    from flowdesk.web.models import Presence

    t = ticket(web, "Shared", team="Tier 1")
    alice, admin = client_for(web.alice), client_for(web.admin)
    url = f"/agent/tickets/{t.pk}/presence"
    assert alice.post(url, {"state": "viewing"}).content.decode().strip() == ""  # alone
    banner = admin.post(url, {"state": "replying"}).content.decode()
    assert "Alice</strong> is viewing this ticket" in banner
    banner = alice.post(url, {"state": "viewing"}).content.decode()
    assert "Ada Admin</strong> is replying to this ticket now" in banner
    # 31 seconds without a refresh: the admin is gone, and the row is swept.
    Presence.objects.filter(user=web.admin).update(
        seen_at=Presence.objects.get(user=web.admin).seen_at - timedelta(seconds=31)
    )
    assert "Ada Admin" not in alice.post(url, {"state": "viewing"}).content.decode()
    assert not Presence.objects.filter(user=web.admin).exists()
    # Leaving says so at once; a ticket outside one's scope is 404, like the page.
    admin.post(url, {"state": "viewing"})
    admin.post(url, {"state": "gone"})
    assert "Ada Admin" not in alice.post(url).content.decode()
    hidden = ticket(web, "Tier 2 only", team="Tier 2")
    assert alice.post(f"/agent/tickets/{hidden.pk}/presence").status_code == 404
    assert alice.get(url).status_code == 405
