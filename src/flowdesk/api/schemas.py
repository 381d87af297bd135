"""Request/response schemas of the REST API (pydantic via django-ninja)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field

# Addresses name people in this help desk (local domains like .localhost included), so the check
# is shape only; whether the person exists is checked by the services.
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)]
StatusT = Literal["new", "open", "pending", "on-hold", "solved", "closed"]
PriorityT = Literal["low", "normal", "high", "urgent"]
TypeT = Literal["question", "incident", "problem", "task"]
ChannelT = Literal["email", "web", "portal", "chat", "api", "phone"]


class Attachment(Schema):
    filename: str = Field(min_length=1, max_length=300)
    content_type: str = "application/octet-stream"
    size: int = Field(ge=0)


class TicketCreate(Schema):
    subject: str = Field(min_length=1, max_length=500)
    body: str = Field(min_length=1, description="The first message: what the customer asked.")
    body_html: str = ""
    channel: ChannelT = "api"
    requester_email: Email | None = Field(
        None, description="Agents create tickets for a customer (created when unknown)."
    )
    requester_name: str = ""
    priority: PriorityT | None = None
    type: TypeT | None = None
    tags: list[str] = []
    custom_fields: dict[str, Any] = {}
    assignee: Email | None = None
    team: str | None = None
    attachments: list[Attachment] = []


class MessageIn(Schema):
    body: str = Field(min_length=1)
    body_html: str = ""
    public: bool = True
    channel: ChannelT = "api"
    attachments: list[Attachment] = []


class TicketPatch(Schema):
    version: int | None = Field(
        None, description="The version you read; a stale one gets 409 instead of a lost update."
    )
    subject: str | None = Field(None, min_length=1, max_length=500)
    status: StatusT | None = None
    priority: PriorityT | None = None
    type: TypeT | None = None
    assignee: Email | None = Field(None, description="null unassigns")
    team: str | None = Field(None, description="null removes the team")
    tags: list[str] | None = None
    add_tags: list[str] | None = None
    remove_tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None
    add_followers: list[Email] | None = None
    message: MessageIn | None = None


class MessageCreate(MessageIn):
    version: int | None = None


class UserRef(Schema):
    id: int
    email: str
    name: str


class TicketOut(Schema):
    id: int
    subject: str
    status: str
    priority: str
    type: str | None
    channel: str
    requester: UserRef
    organization: str | None
    assignee: str | None
    team: str | None
    followers: list[str]
    tags: list[str]
    custom_fields: dict[str, Any]
    message_count: int
    created_at: datetime
    updated_at: datetime
    solved_at: datetime | None
    version: int


class TicketPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[TicketOut]


class MessageOut(Schema):
    id: int
    author: str | None
    author_kind: str
    public: bool
    channel: str
    body: str
    body_html: str
    attachments: list[dict[str, Any]]
    created_at: datetime


class EventOut(Schema):
    id: int
    update_id: int
    kind: str
    field: str
    old: Any
    new: Any
    data: dict[str, Any]
    cause: str
    actor: str | None
    token: str | None
    rule: str
    rule_chain: list[str]
    created_at: datetime


class UpdateOut(Schema):
    id: int
    created_at: datetime
    cause: str
    actor: str | None
    ruleset_version: int | None
    automation: dict[str, Any]


class RuleSetIn(Schema):
    yaml: str | None = Field(None, description="The rule set as YAML text")
    definition: dict[str, Any] | None = Field(None, description="...or as a JSON object")
    source: str = "api"
    comment: str = ""


class RuleSetVersionOut(Schema):
    number: int
    author: str | None
    comment: str
    source_name: str
    restored_from: int | None
    created_at: datetime
    rules: list[str]


class RuleSetVersionDetail(RuleSetVersionOut):
    definition: dict[str, Any]
    yaml: str


class DryRunIn(Schema):
    ticket_id: int | None = Field(None, description="Evaluate against a stored ticket...")
    snapshot: dict[str, Any] | None = Field(None, description="...or a supplied snapshot")
    event: dict[str, Any] | None = Field(
        None,
        description='{"kind": "created"|"updated", "changes": {field: [old, new]}, '
        '"messages": [{"author_kind": "customer", "public": true}]}; default: created',
    )
    yaml: str | None = Field(None, description="A candidate rule set; default: the active one")
    definition: dict[str, Any] | None = None


class OutboxOut(Schema):
    id: int
    kind: str
    ticket_id: int | None
    update_id: int | None
    rule: str
    payload: dict[str, Any]
    idempotency_key: str
    status: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    last_error: str
    created_at: datetime
    delivered_at: datetime | None


class OutboxPage(Schema):
    count: int
    items: list[OutboxOut]
