"""The demo prints a customer sign-in that works on the portal."""

from __future__ import annotations

import io
import re
from typing import Any

from django.core.management import call_command
from django.test import Client


def test_the_demo_customer_signs_in_to_the_portal(db: Any) -> None:
    out = io.StringIO()
    call_command("demo", tickets=12, stdout=out)
    found = re.search(r"customer portal at /portal/login as (\S+), password: (\S+)", out.getvalue())
    assert found, out.getvalue()
    email, password = found.group(1), found.group(2)
    client = Client()
    r = client.post("/portal/login", {"username": email, "password": password})
    assert (r.status_code, r["Location"]) == (302, "/portal/")
    assert client.get("/portal/").status_code == 200
