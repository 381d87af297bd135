"""Screenshots of the main pages for the docs (docs/screenshots/*.png, shown in the README).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Serves the demo (``flowdesk serve --demo``) from a temporary data directory on a free port,
signs in with the demo credentials in headless Chromium (Debian's ``chromium``, or the one
``FLOWDESK_CHROMIUM`` names) and saves one picture per page. Pages that a part of flowdesk does
not have (yet) are reported and skipped, so the script never stops half way.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("FLOWDESK_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "demo"
ADMIN = "admin@flowdesk.localhost"
AGENT = "alice@flowdesk.localhost"  # Tier 1: her inbox has tickets


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/login", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the demo did not answer on {url} within {seconds:.0f} s")


def portal_customer() -> str:
    """The demo customer who signs in to the portal: read from the demo's own database."""
    import django

    django.setup()
    from flowdesk.accounts.models import Role, User

    for user in User.objects.filter(role=Role.CUSTOMER).order_by("pk"):
        if user.has_usable_password():
            return user.email
    raise SystemExit("the demo has no customer with a password")


def sign_in(page: Any, base: str, email: str, path: str = "/login") -> None:
    page.goto(f"{base}{path}")
    form = page.locator("form:has(input[type=password])")  # the portal has a magic-link form too
    form.locator("input[type=email]").fill(email)
    form.locator("input[type=password]").fill(PASSWORD)
    form.locator("button[type=submit], input[type=submit]").first.click()
    page.wait_for_load_state("networkidle")


def shoot(page: Any, out: Path, name: str, url: str, ready: str | None = None) -> None:
    try:
        response = page.goto(url)
        if response is None or response.status >= 400:
            print(f"skipped {name}: {url} answered {response.status if response else 'nothing'}")
            return
        if ready:
            page.locator(ready).first.wait_for(timeout=15_000)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(out / f"{name}.png"), full_page=False)
        print(f"saved {out / f'{name}.png'}")
    except Exception as exc:  # a page missing or slow must not stop the others
        print(f"skipped {name}: {type(exc).__name__}: {exc}".splitlines()[0])


def first_ticket_url(page: Any, base: str) -> str | None:
    page.goto(f"{base}/agent/?view=teams")
    link = page.locator("a.ticket-link").first
    href = link.get_attribute("href") if link.count() else None
    return f"{base}{href}" if href else None


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    p.add_argument("--server-log", help="write the demo server's output here")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        # this process reads the demo's database too (the portal customer's address)
        os.environ.update(
            FLOWDESK_DATA_DIR=data,
            FLOWDESK_DATABASE_URL="",
            FLOWDESK_EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        )
        log = open(args.server_log, "w") if args.server_log else subprocess.DEVNULL  # noqa: SIM115
        server = subprocess.Popen(
            [str(BIN / "flowdesk"), "serve", "--demo", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_up(base)
            take(base, out, portal_customer())
        finally:
            server.terminate()
            server.wait(timeout=30)


def take(base: str, out: Path, customer_email: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        agent = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        sign_in(agent, base, AGENT)
        shoot(agent, out, "inbox", f"{base}/agent/?view=all&sort=priority", "a.ticket-link")
        ticket = first_ticket_url(agent, base)
        if ticket:
            shoot(agent, out, "ticket", ticket, "h1")
        shoot(agent, out, "chat-console", f"{base}/agent/chats/")
        admin = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        sign_in(admin, base, ADMIN)
        shoot(admin, out, "rule-studio", f"{base}/studio/")
        shoot(admin, out, "rule-editor", f"{base}/studio/edit", "textarea")
        shoot(admin, out, "flowchart", f"{base}/studio/flowchart", "#chart svg")
        customer = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        shoot(customer, out, "help-center", f"{base}/portal/help/")
        sign_in(customer, base, customer_email, "/portal/login")
        shoot(customer, out, "portal", f"{base}/portal/")
        shoot(customer, out, "portal-new-request", f"{base}/portal/new")
        phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        sign_in(phone, base, AGENT)
        shoot(phone, out, "inbox-phone", f"{base}/agent/?view=teams", "a.ticket-link")
        browser.close()


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowdesk.config.settings")
    main()
