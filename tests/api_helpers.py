"""Helpers for the API tests: a JSON client over the full Django stack, and the desk shape."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.test import Client

ADMIN = "admin@desk.test"


@dataclass
class ApiResponse:
    status: int
    data: Any

    def __repr__(self) -> str:
        return f"<{self.status} {json.dumps(self.data, default=str)[:600]}>"


class Api:
    """Talks to the REST API through Django's full request/response stack."""

    def __init__(self, token: str) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> ApiResponse:
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs = {"data": json.dumps(body), "content_type": "application/json"}
        elif query:
            kwargs = {"data": query}
        response = getattr(self.client, method.lower())(f"/api{path}", **kwargs)
        data = response.json() if response.content else None
        return ApiResponse(response.status_code, data)

    def get(self, path: str, **query: Any) -> ApiResponse:
        return self.call("GET", path, **query)

    def post(self, path: str, body: Any = None) -> ApiResponse:
        return self.call("POST", path, body if body is not None else {})

    def patch(self, path: str, body: Any) -> ApiResponse:
        return self.call("PATCH", path, body)


@dataclass
class Desk:
    admin: Api
    agent: Api  # alice, Tier 1
    customer: Api  # a customer of an enterprise organization
    other_customer: Api  # a free-tier customer
    customer_email: str
    other_customer_email: str
