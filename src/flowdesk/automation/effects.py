"""Effect appliers: one registered class per engine effect type. Each turns an effect the engine
planned (text already rendered by the engine) into rows - a note, an escalation event, an outbox
item - inside the update's transaction. Nothing is sent here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from flowdesk.accounts.models import User
from flowdesk.core.registry import Registry
from flowdesk.outbox.services import do_enqueue
from flowdesk.tickets.events import record_event
from flowdesk.tickets.models import AuthorKind, Channel, EventKind, Message, Ticket, TicketUpdate
from flowdesk.tickets.services import Cause


@dataclass
class EffectContext:
    ticket: Ticket
    update: TicketUpdate
    cause: Cause
    now: datetime
    key: str  # unique per (update, rule, effect position): the outbox idempotency key


def _add_system_message(ctx: EffectContext, body: str, *, public: bool) -> Message:
    message = Message.objects.create(
        ticket=ctx.ticket,
        update=ctx.update,
        author=None,
        author_kind=AuthorKind.SYSTEM,
        public=public,
        channel=Channel.EMAIL if public else Channel.API,
        body_text=body,
        created_at=ctx.now,
    )
    ctx.ticket.message_count += 1
    kind = EventKind.MESSAGE_ADDED if public else EventKind.NOTE_ADDED
    record_event(
        ctx.ticket,
        ctx.update,
        kind,
        ctx.cause,
        ctx.now,
        data={"message_id": message.pk, "author_kind": "system", "public": public},
    )
    return message


def _queue(ctx: EffectContext, kind: str, payload: dict[str, Any]) -> None:
    item = do_enqueue(
        kind=kind,
        payload=payload,
        idempotency_key=ctx.key,
        now=ctx.now,
        ticket=ctx.ticket,
        update=ctx.update,
        rule=ctx.cause.rule,
    )
    record_event(
        ctx.ticket,
        ctx.update,
        EventKind.OUTBOX_QUEUED,
        ctx.cause,
        ctx.now,
        data={"outbox_id": item.pk, "kind": kind},
    )


class EffectApplier:
    effect_type: ClassVar[str]

    def apply(self, ctx: EffectContext, config: dict[str, Any]) -> None:
        raise NotImplementedError


EFFECTS: Registry[EffectApplier] = Registry("effect applier")


def _subject(ticket: Ticket) -> str:
    return f"Re: {ticket.subject} [#{ticket.pk}]"


class NoteEffect(EffectApplier):
    def apply(self, ctx: EffectContext, config: dict[str, Any]) -> None:
        _add_system_message(ctx, str(config["body"]), public=False)


class ReplyEffect(EffectApplier):
    """The reply is kept on the ticket as a public message and e-mailed through the outbox."""

    def apply(self, ctx: EffectContext, config: dict[str, Any]) -> None:
        body = str(config.get("body") or "")
        _add_system_message(ctx, body, public=True)
        _queue(
            ctx,
            "reply",
            {
                "to": [ctx.ticket.requester.email],
                "subject": config.get("subject") or _subject(ctx.ticket),
                "body": body,
                "template": config.get("template") or "",
            },
        )


class NotifyEffect(EffectApplier):
    def apply(self, ctx: EffectContext, config: dict[str, Any]) -> None:
        emails = {str(e).lower() for e in config.get("agents") or []}
        if team := config.get("team"):
            emails |= set(
                User.objects.filter(teams__name=team, is_active=True).values_list(
                    "email", flat=True
                )
            )
        _queue(
            ctx,
            "notify",
            {
                "to": sorted(emails),
                "subject": f"[#{ctx.ticket.pk}] {ctx.ticket.subject}",
                "body": str(config.get("message", "")),
                "team": team or "",
            },
        )


class WebhookEffect(EffectApplier):
    def apply(self, ctx: EffectContext, config: dict[str, Any]) -> None:
        body = config.get("body")
        if body is None:
            body = {
                "ticket_id": ctx.ticket.pk,
                "update_id": ctx.update.pk,
                "rule": ctx.cause.rule,
                "subject": ctx.ticket.subject,
                "status": ctx.ticket.status,
                "priority": ctx.ticket.priority,
            }
        _queue(
            ctx,
            "webhook",
            {
                "url": config["url"],
                "method": config.get("method", "POST"),
                "headers": config.get("headers") or {},
                "body": body,
            },
        )


class SurveyEffect(EffectApplier):
    def apply(self, ctx: EffectContext, config: dict[str, Any]) -> None:
        survey = str(config.get("survey", "csat"))
        name = ctx.ticket.requester.name or ctx.ticket.requester.email
        _queue(
            ctx,
            "survey",
            {
                "to": [ctx.ticket.requester.email],
                "survey": survey,
                "subject": f"How did we do? [#{ctx.ticket.pk}]",
                "body": f'Hi {name}, how did we do on "{ctx.ticket.subject}" (#{ctx.ticket.pk})?',
            },
        )


class EscalationEffect(EffectApplier):
    def apply(self, ctx: EffectContext, config: dict[str, Any]) -> None:
        record_event(
            ctx.ticket, ctx.update, EventKind.ESCALATED, ctx.cause, ctx.now, data=dict(config)
        )


EFFECTS.add("add_note", NoteEffect())
EFFECTS.add("reply", ReplyEffect())
EFFECTS.add("notify", NotifyEffect())
EFFECTS.add("webhook", WebhookEffect())
EFFECTS.add("send_survey", SurveyEffect())
EFFECTS.add("escalation", EscalationEffect())
