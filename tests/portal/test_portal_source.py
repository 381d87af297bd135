"""A portal request carries where it came from: the portal's page and the language it was
written in, which rules read as ``source.page_url`` and ``language``."""

from __future__ import annotations

import pytest

from flowdesk.tickets.models import Ticket
from portal_helpers import signed_in
from web_helpers import WebDesk

RULES = """\
version: 1
rules:
  - name: filipino-queue
    triggers: [created]
    conditions:
      all:
        - {field: language, op: is, value: fil}
        - {field: source.page_url, op: matches, value: '^http://testserver/portal/new$'}
    actions: [{type: add_tags, tags: [filipino]}]
"""


@pytest.mark.parametrize(("accept", "tags"), [("fil", ["filipino"]), ("en", [])])
def test_a_portal_request_has_its_language_and_page(
    web: WebDesk, accept: str, tags: list[str]
) -> None:
    from flowdesk.automation.services import check_import_yaml

    check_import_yaml(RULES, source="rules.yaml", author=web.admin)
    client = signed_in("cora@acme.test")
    r = client.post(
        "/portal/new", {"subject": "Tulong", "body": "Pakiusap."}, HTTP_ACCEPT_LANGUAGE=accept
    )
    assert r.status_code == 302, r.content[:500]
    ticket = Ticket.objects.get(subject="Tulong")
    assert ticket.channel == "portal"
    assert ticket.source == {"page_url": "http://testserver/portal/new", "language": accept}
    assert ticket.tags == tags
