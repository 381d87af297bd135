"""Chat test helpers: a chat site, and a visitor that talks to the visitor endpoints the way the
widget does (JSON, the site's Origin, the conversation's bearer token)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

ORIGIN = "https://shop.test"


def make_site(name: str = "shop", team: str | None = "Tier 1", **values: Any) -> Any:
    from flowdesk.chat.sites import check_create_site

    return check_create_site({"name": name, "allowed_origins": [ORIGIN], "team": team, **values})


def hmac_of(site: Any, user_id: str) -> str:
    import hashlib
    import hmac

    return hmac.new(site.identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


@dataclass
class Reply:
    status: int
    data: Any
    headers: Any

    def __repr__(self) -> str:
        return f"<{self.status} {self.data!r}>"


@dataclass
class Visitor:
    key: str
    origin: str = ORIGIN
    token: str = ""
    address: str = "203.0.113.7"
    client: Any = field(default=None)

    def __post_init__(self) -> None:
        from django.test import Client

        self.client = Client()

    def call(self, method: str, path: str, body: Any = None) -> Reply:
        headers: dict[str, str] = {}
        if self.origin:
            headers["Origin"] = self.origin
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        kwargs: dict[str, Any] = {"headers": headers, "REMOTE_ADDR": self.address}
        if body is not None:
            kwargs |= {"data": json.dumps(body), "content_type": "application/json"}
        r = getattr(self.client, method)(f"/chat/v1/{self.key}/{path}", **kwargs)
        data = (
            json.loads(r.content)
            if r.content and r.get("Content-Type", "").startswith("application/json")
            else None
        )
        return Reply(r.status_code, data, r)

    def start(self, **fields: Any) -> Reply:
        r = self.call("post", "conversations", fields)
        if r.status == 201:
            self.token = r.data["token"]
        return r

    def send(self, body: str) -> Reply:
        return self.call("post", "messages", {"body": body})

    def events(self, after: int = 0) -> Reply:
        return self.call("get", f"events?after={after}")


def outbox_replies(ticket_id: int) -> list[Any]:
    from flowdesk.outbox.models import OutboxItem

    return list(OutboxItem.objects.filter(ticket_id=ticket_id, kind="reply").order_by("id"))
