"""The customer page in the workspace: identities, suggestions, every ticket across channels by
last activity, merge with confirmation and unmerge (test client; one run in Chromium)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from web_helpers import WebDesk, client_for, make_desk, sign_in, ticket


def _customer(email: str, name: str = "", org: Any = None) -> Any:
    from flowdesk.accounts.services import do_create_user

    return do_create_user(email, name=name, organization=org)


def _ticket_for(requester: Any, subject: str, channel: str, minutes_ago: int = 0) -> Any:
    from datetime import timedelta

    from flowdesk.core.clock import utcnow
    from flowdesk.tickets.services import Cause, ChangeSet, NewMessage, check_create_ticket

    return check_create_ticket(
        actor=None,
        requester=requester,
        subject=subject,
        message=NewMessage(body_text="Hello"),
        channel=channel,
        changes=ChangeSet(),
        cause=Cause.for_user(requester),
        now=utcnow() - timedelta(minutes=minutes_ago),
    )


def _listed(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<td><a href="/agent/tickets/(\d+)">', html)]


def test_the_page_shows_identities_and_every_channel_by_last_activity(web: WebDesk) -> None:
    from flowdesk.accounts.identities import check_add_identity

    check_add_identity(web.cora, kind="phone", value="+14155550100")
    old = _ticket_for(web.cora, "By mail", "email", minutes_ago=90)
    chat = _ticket_for(web.cora, "By chat", "chat", minutes_ago=30)
    portal = _ticket_for(web.cora, "By portal", "portal", minutes_ago=60)
    other = _ticket_for(_customer("someone@else.test"), "Not hers", "api")
    r = client_for(web.admin).get(f"/agent/customers/{web.cora.pk}")
    assert r.status_code == 200
    html = r.content.decode()
    assert _listed(html) == [chat.pk, portal.pk, old.pk]
    assert other.pk not in _listed(html)
    assert "+14155550100" in html
    assert "cora@acme.test" in html
    assert "enterprise" in html  # the organization's tier
    assert re.search(r"cora@acme.test\s*<span class=\"badge verified\">verified</span>", html)
    assert re.search(r"\+14155550100\s*<span class=\"badge unverified\">unverified", html)
    # The ticket sidebar links to it.
    page = client_for(web.admin).get(f"/agent/tickets/{chat.pk}").content.decode()
    assert f'href="/agent/customers/{web.cora.pk}"' in page


def test_the_timeline_is_paginated_and_team_scoped(web: WebDesk) -> None:
    from flowdesk.web.customer import PAGE_SIZE

    made = [_ticket_for(web.cora, f"T{i}", "api", minutes_ago=i) for i in range(PAGE_SIZE + 2)]
    ticket(web, "Tier 2 only", team="Tier 2")  # alice (Tier 1) does not see it
    admin = client_for(web.admin)
    first = _listed(admin.get(f"/agent/customers/{web.cora.pk}").content.decode())
    second = _listed(admin.get(f"/agent/customers/{web.cora.pk}?page=2").content.decode())
    assert len(first) == PAGE_SIZE
    assert len(first) + len(second) == len(made) + 1
    assert first[0] > first[-1]
    alice = client_for(web.alice).get(f"/agent/customers/{web.cora.pk}?page=2").content.decode()
    assert len(_listed(alice)) == 2  # one ticket fewer than the admin sees


def test_only_agents_see_it_and_unknown_ids_are_404(web: WebDesk) -> None:
    from django.test import Client

    assert client_for(web.cora).get(f"/agent/customers/{web.cora.pk}").status_code == 403
    anonymous = Client().get(f"/agent/customers/{web.cora.pk}")
    assert anonymous.status_code == 302
    assert client_for(web.admin).get(f"/agent/customers/{web.alice.pk}").status_code == 404
    assert client_for(web.admin).get("/agent/customers/999999").status_code == 404


def test_merge_asks_first_then_the_tombstone_redirects_and_unmerge_undoes(web: WebDesk) -> None:
    home = _customer("cora@home.test", name="Cora", org=web.cora.organization)
    t = _ticket_for(home, "From home", "email")
    agent = client_for(web.alice)
    page = agent.get(f"/agent/customers/{web.cora.pk}").content.decode()
    assert "same name" in page  # the suggestion
    ask = agent.post(f"/agent/customers/{home.pk}/merge", {"into": web.cora.pk})
    assert ask.status_code == 200
    assert "Confirm merge" in ask.content.decode()
    assert "1 ticket," in ask.content.decode()
    home.refresh_from_db()
    assert home.merged_into_id is None  # nothing happened yet
    done = agent.post(f"/agent/customers/{home.pk}/merge", {"into": web.cora.pk, "confirm": "yes"})
    assert done.status_code == 302
    assert done["Location"] == f"/agent/customers/{web.cora.pk}"
    old = agent.get(f"/agent/customers/{home.pk}")
    assert old.status_code == 302
    assert old["Location"] == f"/agent/customers/{web.cora.pk}"
    survivor = agent.get(f"/agent/customers/{web.cora.pk}").content.decode()
    assert t.pk in _listed(survivor)
    assert "Merged cora@home.test into cora@acme.test." in survivor
    assert "Merged into this customer" in survivor
    assert "same name" not in survivor  # a suggestion about a tombstone is gone
    undo = agent.post(f"/agent/customers/{home.pk}/unmerge")
    assert undo["Location"] == f"/agent/customers/{home.pk}"
    assert t.pk in _listed(agent.get(f"/agent/customers/{home.pk}").content.decode())
    history = agent.get(f"/agent/tickets/{t.pk}").content.decode()
    assert f"merged customer #{home.pk} into customer #{web.cora.pk}" in history
    assert f"unmerged customer #{home.pk} from customer #{web.cora.pk}" in history


def test_ticket_merges_read_as_sentences_in_the_history(web: WebDesk) -> None:
    from flowdesk.core.clock import utcnow
    from flowdesk.tickets.merge import check_merge_tickets, check_unmerge_ticket
    from flowdesk.tickets.services import Cause

    first = _ticket_for(web.cora, "Printer", "email", minutes_ago=5)
    second = _ticket_for(web.cora, "Printer again", "portal")
    cause = Cause.for_user(web.alice)
    check_merge_tickets(second.pk, first.pk, cause=cause, now=utcnow())
    agent = client_for(web.alice)
    merged = agent.get(f"/agent/tickets/{first.pk}").content.decode()
    assert f"merged ticket #{second.pk} into #{first.pk} (1 message)" in merged
    check_unmerge_ticket(second.pk, cause=cause, now=utcnow())
    back = agent.get(f"/agent/tickets/{second.pk}").content.decode()
    assert f"unmerged ticket #{second.pk} from #{first.pk} (1 message)" in back


def test_a_bad_merge_target_is_explained(web: WebDesk) -> None:
    agent = client_for(web.alice)
    for into in ("", "abc", str(web.cora.pk), str(web.alice.pk)):
        r = agent.post(f"/agent/customers/{web.cora.pk}/merge", {"into": into, "confirm": "yes"})
        assert r.status_code == 422, into
        assert "No other live customer" in r.content.decode()


def test_dismissing_a_suggestion(web: WebDesk) -> None:
    twin = _customer("cora2@acme.test", name="Cora", org=web.cora.organization)
    agent = client_for(web.alice)
    html = agent.get(f"/agent/customers/{web.cora.pk}").content.decode()
    url = re.search(r'action="(/agent/customers/\d+/suggestions/\d+/dismiss)"', html)
    assert url is not None
    assert agent.post(url.group(1)).status_code == 302
    assert "same name" not in agent.get(f"/agent/customers/{twin.pk}").content.decode()


@pytest.mark.browser
def test_merge_with_confirmation_in_a_browser(
    browser: Any, live_server: Any, transactional_db: Any
) -> None:
    web = make_desk()
    home = _customer("cora@home.test")
    _ticket_for(home, "Sent from home", "email")
    page = sign_in(browser, live_server.url, "alice@desk.test")
    page.wait_for_url("**/agent/")
    page.goto(f"{live_server.url}/agent/customers/{home.pk}")
    page.get_by_label("Merge this customer into customer id").fill(str(web.cora.pk))
    page.get_by_role("button", name="Merge…").click()
    dialog = page.get_by_role("alertdialog")
    dialog.wait_for()
    assert "cora@acme.test" in dialog.inner_text()
    dialog.get_by_role("button", name="Confirm merge").click()
    page.wait_for_url(f"**/agent/customers/{web.cora.pk}")
    page.get_by_text("Merged cora@home.test into cora@acme.test.").wait_for()
    assert page.get_by_role("link", name=re.compile("Sent from home")).is_visible()
    page.goto(f"{live_server.url}/agent/customers/{home.pk}")
    page.wait_for_url(f"**/agent/customers/{web.cora.pk}")
