"""Request/response schemas of the REST API (pydantic via django-ninja)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.conf import settings
from ninja import Schema
from ninja.schema import DjangoGetter
from pydantic import Field, StrictBool, model_validator
from pydantic_core import PydanticCustomError

from flowdesk.engine.vocabulary import Channel, Priority, Status, TicketType

# Addresses name people in this help desk (local domains like .localhost included), so the check
# is shape only; whether the person exists is checked by the services.
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=254)]
# The allowed values are the engine vocabulary's enums (defined once; published as OpenAPI enums).
StatusT = Status
PriorityT = Priority
TypeT = TicketType
ChannelT = Channel
# A row id as a filter value: anything larger fits no database integer.
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
# Pagination: an offset past what a database can hold would fail in SQL, not as a clear 422.
Limit = Annotated[int, Field(ge=1, le=200, description="page size, 1-200")]
Offset = Annotated[int, Field(ge=0, le=1_000_000_000, description="items to skip, 0-1,000,000,000")]
# The text of one message (FLOWDESK_MESSAGE_MAX_CHARS, docs/api.md).
MESSAGE_MAX_CHARS = int(settings.FLOWDESK["MESSAGE_MAX_CHARS"])
MessageText = Annotated[str, Field(max_length=MESSAGE_MAX_CHARS)]
# As long as the database columns (longer text is refused on PostgreSQL, kept on SQLite).
Tag = Annotated[str, Field(max_length=100)]


class RequestIn(Schema):
    """Request input (a JSON body, or query parameters): a JSON object, and no NUL character in
    any text, which PostgreSQL cannot store. (A ninja Schema reads fields by attribute from
    anything, so a JSON array or number would otherwise pass as an object with every field unset.)
    """

    @model_validator(mode="before")
    @classmethod
    def _object_only(cls, data: Any) -> Any:
        raw = data._obj if isinstance(data, DjangoGetter) else data
        if not isinstance(raw, dict):
            raise ValueError(f"expected a JSON object, got {_json_type(raw)}")
        if (where := _nul_at(raw)) is not None:
            # The path goes in the context: flowdesk.api.main adds it to the error's location.
            raise PydanticCustomError(
                "nul_character",
                "text must not contain the NUL character (\\u0000)",
                {"path": where},
            )
        return data


def _nul_at(value: Any) -> list[str | int] | None:
    """The path of the first text containing NUL (a key: the path of its mapping), else None.
    Iterative: a request's nesting is limited, but not by this walk."""
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return path
        elif isinstance(node, dict):
            if any(isinstance(key, str) and "\x00" in key for key in node):
                return path
            stack.extend((item, [*path, str(key)]) for key, item in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((item, [*path, i]) for i, item in reversed(list(enumerate(node))))
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else type(value).__name__


class Attachment(RequestIn):
    filename: str = Field(min_length=1, max_length=300)
    content_type: str = "application/octet-stream"
    size: int = Field(ge=0)


class TicketCreate(RequestIn):
    subject: str = Field(min_length=1, max_length=500)
    body: MessageText = Field(
        min_length=1, description="The first message: what the customer asked."
    )
    body_html: MessageText = ""
    channel: ChannelT = Channel.API
    requester_email: Email | None = Field(
        None, description="Agents create tickets for a customer (created when unknown)."
    )
    requester_name: str = Field("", max_length=200)
    priority: PriorityT | None = None
    type: TypeT | None = None
    tags: list[Tag] = []
    custom_fields: dict[str, Any] = {}
    assignee: Email | None = None
    team: str | None = None
    attachments: list[Attachment] = []
    source: dict[str, Any] | None = Field(
        None,
        description="Where the request came from, for rules (source.*, language): language, "
        "page_url; agents and integrations also mailbox, address, headers (name -> text, at "
        "most 50). Read-only once the ticket exists.",
        examples=[{"language": "de", "page_url": "https://shop.example/help"}],
    )


class MessageIn(RequestIn):
    body: MessageText = Field(min_length=1)
    body_html: MessageText = ""
    public: StrictBool = Field(True, description="false: an internal note (true or false only)")
    channel: ChannelT = Channel.API
    attachments: list[Attachment] = []


class TicketPatch(RequestIn):
    version: int | None = Field(
        None, description="The version you read; a stale one gets 409 instead of a lost update."
    )
    subject: str | None = Field(None, min_length=1, max_length=500)
    status: StatusT | None = None
    priority: PriorityT | None = None
    type: TypeT | None = None
    assignee: Email | None = Field(None, description="null unassigns")
    team: str | None = Field(None, description="null removes the team")
    tags: list[Tag] | None = None
    add_tags: list[Tag] | None = None
    remove_tags: list[Tag] | None = None
    custom_fields: dict[str, Any] | None = None
    add_followers: list[Email] | None = None
    remove_followers: list[Email] | None = None
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
    #: where it came from (mailbox, address, headers, page_url, language), as its channel saw it
    source: dict[str, Any]
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
    cause_detail: str
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


class RuleSetIn(RequestIn):
    yaml: str | None = Field(None, description="The rule set as YAML text")
    definition: dict[str, Any] | None = Field(None, description="...or as a JSON object")
    source: str = Field("api", max_length=300)
    comment: str = Field("", max_length=500)


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


class RuleWarning(Schema):
    rule: str
    path: str
    line: int | None
    code: str
    message: str
    text: str


class RuleSetImportOut(RuleSetVersionDetail):
    warnings: list[RuleWarning] = Field(
        description="Static checks (never blocking): rules that can never match, writes that "
        "another rule always overwrites, ..."
    )


class DryRunIn(RequestIn):
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


class RuleSetValidOut(Schema):
    valid: bool
    rules: list[str]
    warnings: list[RuleWarning] = Field(
        description="Static checks (never blocking), as for an import."
    )


# Error bodies (docs/api.md, "Errors"). Every operation declares the statuses it can answer with
# `errors(...)`, so the OpenAPI spec documents them for clients and fuzzers.


class ErrorOut(Schema):
    detail: str


class FieldErrorOut(Schema):
    field: str = Field(description="where: subject, message.body, custom_fields.plan, tags[0]")
    message: str


class ValidationErrorOut(Schema):
    detail: str
    errors: list[FieldErrorOut]


class RuleIssueOut(Schema):
    source: str
    rule: str | None
    path: str
    line: int | None
    message: str
    suggestion: str | None
    text: str = Field(description="the whole problem as one line, as the CLI prints it")


class RuleSetErrorOut(Schema):
    detail: str
    errors: list[RuleIssueOut]


class ConflictOut(Schema):
    detail: str
    current_version: int | None


_ERROR_BODIES: dict[int, Any] = {409: ConflictOut, 422: ValidationErrorOut}
# The statuses of an operation that takes a JSON body: malformed JSON, too large, invalid.
BODY_ERRORS = (400, 413, 422)


def errors(*statuses: int, rules: bool = False) -> dict[int, Any]:
    """OpenAPI responses for the error statuses an operation can answer (``response={200: X,
    **errors(401, 404)}``). ``rules``: its 422 may also be an invalid rule set."""
    bodies = dict(_ERROR_BODIES)
    if rules:
        bodies[422] = ValidationErrorOut | RuleSetErrorOut
    return {status: bodies.get(status, ErrorOut) for status in sorted(set(statuses))}


# The error statuses of an admin-only resource addressed by name (mailboxes, chat sites): its
# list, reading one (unknown name: 404), and a write (name taken: 409; a bad body).
ADMIN_LIST_ERRORS = errors(401, 403)
ADMIN_READ_ERRORS = errors(401, 403, 404, 422)
ADMIN_WRITE_ERRORS = errors(401, 403, 404, 409, *BODY_ERRORS)


# Rule sets, summarised: large rule sets (tens of thousands of rules) are paged, and the whole
# definition and YAML come only on request (docs/api.md, "Rules").


class RuleBriefOut(Schema):
    name: str
    enabled: bool
    triggers: list[Any]


class RuleSetVersionSummary(Schema):
    number: int
    author: str | None
    comment: str
    source_name: str
    restored_from: int | None
    created_at: datetime
    rule_count: int


class RuleSetPageOut(RuleSetVersionSummary):
    enabled_count: int
    templates: list[str]
    trigger_counts: dict[str, int] = Field(description="rules per trigger type")
    limit: int
    offset: int
    rules: list[RuleBriefOut] = Field(description="one page of rules: names and triggers")
    definition: dict[str, Any] | None = Field(None, description="the whole definition (full=true)")
    yaml: str | None = Field(None, description="the whole rule set as YAML (full=true)")


class RuleSetImportPageOut(RuleSetPageOut):
    warnings: list[RuleWarning] = Field(
        description="Static checks (never blocking): rules that can never match, writes that "
        "another rule always overwrites, ...: the first 100"
    )
    warning_count: int = Field(description="all the warnings, listed or not")


class RulePageQuery(RequestIn):
    limit: Limit = 50
    offset: Offset = 0
    full: bool = Field(False, description="also the whole definition and its YAML")


class RuleSetValidPageOut(Schema):
    valid: bool
    rule_count: int
    rules: list[str] = Field(description="the names of the first 50 rules")
    warnings: list[RuleWarning] = Field(
        description="Static checks (never blocking), as for an import: the first 100."
    )
    warning_count: int = Field(description="all the warnings, listed or not")
