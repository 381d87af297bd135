"""Chat sites (where the widget is embedded) and conversations (the live side of a chat ticket).

A conversation holds no message: messages are the ticket's (``tickets.Message``), written by the
ticket services, so a reply from the ticket page or a rule's reply reaches the chat as well.
"""

from __future__ import annotations

import hashlib
import secrets

from django.db import models

from flowdesk.accounts.models import Team
from flowdesk.core.clock import utcnow
from flowdesk.tickets.models import Ticket


def new_public_key() -> str:
    return "cs_" + secrets.token_urlsafe(18)


def new_secret() -> str:
    return secrets.token_hex(32)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ChatSite(models.Model):
    """One website that embeds the widget: its origins (CORS), team, identity secret, texts."""

    name = models.CharField(max_length=64, unique=True)
    public_key = models.CharField(max_length=40, unique=True, default=new_public_key)
    allowed_origins = models.JSONField(default=list, blank=True)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    #: HMAC-SHA256 key of the identity hash (the site's server signs its user ids with it)
    identity_secret = models.CharField(max_length=128, default=new_secret)
    greeting = models.CharField(max_length=500, blank=True, default="Hi! How can we help?")
    offline_text = models.CharField(
        max_length=500,
        blank=True,
        default="We are away right now. Leave a message and we will answer by e-mail.",
    )
    name_required = models.BooleanField(default=False)
    email_required = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=utcnow)

    def __str__(self) -> str:
        return self.name


class ChatConversation(models.Model):
    """The live state of one chat ticket: who the visitor is, what each side has seen, who is
    typing, and whether it has ended. The visitor's token is stored only as its hash."""

    site = models.ForeignKey(ChatSite, on_delete=models.PROTECT, related_name="conversations")
    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="chat")
    token_hash = models.CharField(max_length=64, unique=True)
    #: the public visitor id (the customer's ``chat`` identity)
    visitor_id = models.CharField(max_length=40)
    name = models.CharField(max_length=200, blank=True)
    #: as typed in the pre-chat or offline form: unverified, where mail goes once the chat ended
    email = models.CharField(max_length=254, blank=True)
    identified = models.BooleanField(default=False)
    offline = models.BooleanField(default=False)
    started_at = models.DateTimeField(default=utcnow)
    ended_at = models.DateTimeField(null=True, blank=True)
    #: the visitor's last request (polls included, written at most every few seconds)
    visitor_active_at = models.DateTimeField(default=utcnow)
    visitor_seen_id = models.BigIntegerField(default=0)
    agent_seen_id = models.BigIntegerField(default=0)
    visitor_typing_at = models.DateTimeField(null=True, blank=True)
    agent_typing_at = models.DateTimeField(null=True, blank=True)
    agent_typing_name = models.CharField(max_length=200, blank=True)
    #: bumped by the chat services on every change of the live state (a message, typing,
    #: seen, the end); with the ticket's version it is the stamp a poll compares
    rev = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["site", "ended_at"])]

    def __str__(self) -> str:
        return f"chat on ticket {self.ticket_id}"
