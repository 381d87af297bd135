"""What readers do: views (one per visitor and article, counted atomically), one helpful vote
per voter, and deflection: a view not followed by a ticket from the same visitor within the
window, per article and per visitor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kb_helpers import anonymous, article

from api_helpers import Desk
from flowdesk.core.clock import travel

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def _stats(desk: Desk) -> dict[str, Any]:
    r = desk.agent.get("/kb/stats")
    assert r.status == 200, r
    data: dict[str, Any] = r.data
    return data


def test_helpful_votes_count_once_per_voter(kb: Desk) -> None:
    article(kb.admin, "a", "Title", "Body")
    visitor = anonymous()
    r = visitor.post("/kb/articles/a/helpful", {"helpful": True, "visitor": "s-1"})
    assert r.data == {"counted": True, "helpful_yes": 1, "helpful_no": 0}
    r = visitor.post("/kb/articles/a/helpful", {"helpful": False, "visitor": "s-1"})
    assert r.data == {"counted": False, "helpful_yes": 1, "helpful_no": 0}
    r = visitor.post("/kb/articles/a/helpful", {"helpful": False, "visitor": "s-2"})
    assert r.data == {"counted": True, "helpful_yes": 1, "helpful_no": 1}
    # A signed-in reader votes as themselves, whatever else they send later.
    assert kb.customer.post("/kb/articles/a/helpful", {"helpful": True}).data["counted"]
    assert not kb.customer.post("/kb/articles/a/helpful", {"helpful": True}).data["counted"]
    r = visitor.post("/kb/articles/a/helpful", {"helpful": True})
    assert (r.status, r.data["errors"][0]["field"]) == (422, "visitor")
    r = visitor.post("/kb/articles/a/helpful", {"visitor": "s-3"})
    assert (r.status, r.data["errors"][0]["field"]) == (422, "helpful")
    assert (_stats(kb)["totals"]["helpful_yes"], _stats(kb)["totals"]["helpful_no"]) == (2, 1)


def test_views_are_counted(kb: Desk) -> None:
    article(kb.admin, "a", "Title", "Body")
    article(kb.admin, "b", "Other", "Body")
    for i in range(3):
        assert anonymous().post("/kb/articles/a/view", {"visitor": f"s{i}"}).status == 204
    assert kb.customer.post("/kb/articles/b/view").status == 204
    assert anonymous().post("/kb/articles/a/view", {"visitor": "s1"}).status == 204  # again
    assert kb.customer.post("/kb/articles/b/view").status == 204
    assert anonymous().get("/kb/articles/a").data["views"] == 3
    rows = {row["slug"]: row["views"] for row in _stats(kb)["articles"]}
    assert rows == {"a": 3, "b": 1}
    assert kb.customer.get("/kb/stats").status == 403
    assert anonymous().get("/kb/stats").status == 401


def test_deflection_is_a_view_without_a_ticket_in_the_window(kb: Desk, settings: Any) -> None:
    settings.FLOWDESK = {**settings.FLOWDESK, "KB_DEFLECTION_MINUTES": 30}
    article(kb.admin, "a", "Title", "Body")
    article(kb.admin, "b", "Other", "Body")
    reader = anonymous()
    with travel(T0):
        for visitor in ("deflected", "filed", "filed-late", "pending"):
            assert reader.post("/kb/articles/a/view", {"visitor": visitor}).status == 204
        assert reader.post("/kb/articles/b/view", {"visitor": "deflected"}).status == 204
    with travel(T0 + timedelta(minutes=10)):
        assert kb.agent.post("/kb/ticket-filed", {"visitor": "filed"}).status == 204
        assert kb.agent.post("/kb/ticket-filed", {"visitor": "filed"}).status == 204  # twice
    with travel(T0 + timedelta(minutes=45)):
        assert kb.agent.post("/kb/ticket-filed", {"visitor": "filed-late"}).status == 204
        # A second opening by the same visitor is not a second view ...
        assert reader.post("/kb/articles/a/view", {"visitor": "pending"}).status == 204
        # ... but a first opening of another article is, with its own window.
        assert reader.post("/kb/articles/b/view", {"visitor": "pending"}).status == 204
    with travel(T0 + timedelta(minutes=50)):
        stats = _stats(kb)
    assert stats["window_minutes"] == 30
    rows = {row["slug"]: row for row in stats["articles"]}
    a, b = rows["a"], rows["b"]
    # a: deflected, filed-late (the ticket came after the window) and pending are deflected;
    # filed's view led to a ticket (once, though two tickets were filed).
    assert (a["views"], a["deflected"], a["led_to_ticket"], a["pending"]) == (4, 3, 1, 0)
    # b: deflected's view is deflected; pending's is still in its window.
    assert (b["views"], b["deflected"], b["led_to_ticket"], b["pending"]) == (2, 1, 0, 1)
    assert stats["totals"]["deflected"] == 4  # per article: "deflected" read two
    # Per visitor, nobody counts twice: deflected (two articles) and filed-late deflected, filed
    # filed, and pending still has a window open.
    assert stats["visitors"] == {"visitors": 4, "deflected": 2, "filed": 1, "pending": 1}
    with travel(T0 + timedelta(minutes=80)):
        later = _stats(kb)["visitors"]
    assert later == {"visitors": 4, "deflected": 3, "filed": 1, "pending": 0}
    assert anonymous().post("/kb/ticket-filed", {"visitor": "x"}).status == 401
