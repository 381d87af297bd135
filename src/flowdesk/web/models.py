"""The workspace's own tables: the search index, saved views and presence.

None of them holds ticket data of its own: the search index is derived from tickets and
messages (rebuilt at will by ``manage.py search_index``), a saved view is a stored filter, and
presence is who has a ticket open right now (rows expire after ``PRESENCE_TTL`` seconds).
"""

from __future__ import annotations

from django.db import models

from flowdesk.accounts.models import User
from flowdesk.core.clock import utcnow
from flowdesk.tickets.models import Ticket


class SearchDoc(models.Model):
    """One row per ticket: ``head`` (subject, requester name and e-mail) and ``body`` (its
    messages), accent-folded and reduced to words (flowdesk.web.search.words).

    Created by the migration per database: an FTS5 virtual table on SQLite (the column
    ``rowid`` is the ticket id), a table with a generated ``tsvector`` and a GIN index on
    PostgreSQL. Written only by flowdesk.web.search, never through the ORM."""

    ticket = models.OneToOneField(
        Ticket,
        primary_key=True,
        db_column="rowid",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
        related_name="search_doc",
    )
    head = models.TextField()
    body = models.TextField()

    class Meta:
        managed = False
        db_table = "web_searchdoc"

    def __str__(self) -> str:
        return f"search document of ticket {self.pk}"


class SavedView(models.Model):
    """A named filter of the inbox: shared (no owner, admins manage them) or personal."""

    name = models.CharField(max_length=80)
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="saved_views"
    )
    #: the API's ticket-list filters: status and priority (lists), team, assignee, tag,
    #: channel (strings; team and assignee may be "none"), q (text)
    filters = models.JSONField(default=dict, blank=True)
    sort = models.CharField(max_length=16, default="updated")
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=utcnow)

    class Meta:
        ordering = ["position", "name", "id"]

    def __str__(self) -> str:
        return self.name


class Presence(models.Model):
    """An agent with a ticket open (``viewing``) or a reply box in use (``replying``), as of
    ``seen_at``; the page refreshes it every few seconds, so a row older than the TTL is gone."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=16, default="viewing")
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "user"], name="web_presence_one_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.state} ticket {self.ticket_id}"
