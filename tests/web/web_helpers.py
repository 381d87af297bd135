"""A small help desk for the workspace tests: people with passwords, and tickets written
through the ticket services (the only writers)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

PASSWORD = "correct horse battery"


@dataclass
class WebDesk:
    admin: Any
    alice: Any  # agent, Tier 1
    carol: Any  # agent, Tier 2
    cora: Any  # customer of Acme (enterprise)
    tier1: Any
    tier2: Any


def make_desk() -> WebDesk:
    from flowdesk.accounts.models import Role
    from flowdesk.accounts.services import (
        do_create_organization,
        do_create_team,
        do_create_user,
    )

    admin = do_create_user("admin@desk.test", name="Ada Admin", role=Role.ADMIN, password=PASSWORD)
    alice = do_create_user("alice@desk.test", name="Alice", role=Role.AGENT, password=PASSWORD)
    carol = do_create_user("carol@desk.test", name="Carol", role=Role.AGENT, password=PASSWORD)
    tier1 = do_create_team("Tier 1", [alice])
    tier2 = do_create_team("Tier 2", [carol])
    acme = do_create_organization("Acme", {"tier": "enterprise"})
    cora = do_create_user("cora@acme.test", name="Cora", organization=acme, password=PASSWORD)
    return WebDesk(admin, alice, carol, cora, tier1, tier2)


def ticket(
    desk: WebDesk, subject: str, *, minutes_ago: int = 0, requester: Any = None, **values: Any
) -> Any:
    """A ticket from the customer (Cora unless ``requester``), then the agent-set fields
    (priority, team, assignee ...)."""
    from flowdesk.core.clock import utcnow
    from flowdesk.tickets.services import (
        Cause,
        ChangeSet,
        NewMessage,
        check_create_ticket,
        check_update_ticket,
    )

    at = utcnow() - timedelta(minutes=minutes_ago)
    html = values.pop("body_html", "")
    requester = requester or desk.cora
    t = check_create_ticket(
        actor=None,
        requester=requester,
        subject=subject,
        message=NewMessage(body_text=values.pop("body", "Please help."), body_html=html),
        channel="email",
        changes=ChangeSet(),
        cause=Cause.for_user(requester),
        now=at,
    )
    if values:
        t = check_update_ticket(
            t,
            changes=ChangeSet(values=values),
            message=None,
            expected_version=None,
            cause=Cause.for_user(desk.admin),
            now=at,
        )
    return t


def sign_in(browser: Any, base: str, email: str) -> Any:
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return page


def client_for(user: Any) -> Any:
    """A test client signed in as ``user``."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def listed_ids(page: str) -> list[int]:
    """The ticket ids of an inbox page, in order."""
    import re

    return [int(n) for n in re.findall(r'href="/agent/tickets/(\d+)" class="ticket-link"', page)]


CHROMIUM = Path(os.environ.get("FLOWDESK_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (scripts/test installs chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls
    # (setting up data, checking it) are synchronous all the same.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
