"""A minimal landing page until the agent UI arrives: what is running and where to go."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.html import escape

from flowdesk.automation.services import active_version
from flowdesk.outbox.models import OutboxItem
from flowdesk.tickets.models import Ticket


def home_page(request: HttpRequest) -> HttpResponse:
    version = active_version()
    rules = [r.get("name", "") for r in version.definition.get("rules", [])] if version else []
    recent = Ticket.objects.select_related("team").order_by("-id")[:15]
    rows = "".join(
        f"<tr><td>#{t.pk}</td><td>{escape(t.subject)}</td><td>{t.status}</td>"
        f"<td>{t.priority}</td><td>{escape(t.team.name) if t.team else ''}</td>"
        f"<td>{escape(', '.join(t.tags))}</td></tr>"
        for t in recent
    )
    pending = OutboxItem.objects.filter(status="pending").count()
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>flowdesk</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}}
td,th{{padding:.2rem .6rem;text-align:left;border-bottom:1px solid #ddd}}</style></head><body>
<h1>flowdesk</h1>
<p>{Ticket.objects.count()} tickets · rule set {f"v{version.number}" if version else "none"}
({len(rules)} rules) · {pending} outbox items pending</p>
<p><a href="/api/docs">REST API documentation (OpenAPI)</a> ·
<a href="/api/rules/schema">rule-set JSON schema</a></p>
<h2>Rules, in order</h2><ol>{"".join(f"<li>{escape(r)}</li>" for r in rules)}</ol>
<h2>Latest tickets</h2><table><tr><th>id</th><th>subject</th><th>status</th><th>priority</th>
<th>team</th><th>tags</th></tr>{rows}</table></body></html>"""
    return HttpResponse(html)
