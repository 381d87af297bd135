"""Effect appliers: one registered class per engine effect type. Each turns an effect the engine
planned (text already rendered by the engine) into writes through the ticket services (a note or
a reply is a message added by ``do_add_message``, which decides its delivery) or an outbox item,
inside the update's transaction. Nothing is sent here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from flowdesk.accounts.models import User
from flowdesk.core.registry import Registry
from flowdesk.tickets.cause import Cause
from flowdesk.tickets.delivery import queue_outbox, reply_channel
from flowdesk.tickets.models import AuthorKind, Channel, EventKind
from flowdesk.tickets.services import NewMessage, TicketWrite, do_add_message


@dataclass
class EffectContext:
    w: TicketWrite
    cause: Cause
    key: str  # unique per (update, rule, effect position): the outbox idempotency key

    def queue(self, kind: str, payload: dict[str, Any]) -> None:
        queue_outbox(self.w, kind, payload, key=self.key, cause=self.cause, fresh=True)

    def message(self, body: str, *, public: bool, subject: str = "", channel: str = "") -> None:
        do_add_message(
            self.w,
            NewMessage(
                body_text=body,
                public=public,
                channel=channel or (Channel.EMAIL if public else Channel.API),
                subject=subject,
            ),
            author=None,
            author_kind=AuthorKind.SYSTEM,
            cause=self.cause,
        )


class EffectApplier:
    effect_type: ClassVar[str]

    def apply(self, ctx: EffectContext, config: dict[str, Any]) -> None:
        raise NotImplementedError


EFFECTS: Registry[EffectApplier] = Registry("effect applier")


class NoteEffect(EffectApplier):
    def apply(self, ctx: EffectContext, config: dict[str, Any]) -> None:
        ctx.message(str(config["body"]), public=False)


class ReplyEffect(EffectApplier):
    """A public message by the system, stored on the ticket; like an agent's reply it goes to
    the requester, by the ticket's channel (``via: channel``, the default) or by e-mail
    (``via: email``): ``tickets.delivery.reply_channel``."""

    def apply(self, ctx: EffectContext, config: dict[str, Any]) -> None:
        ctx.message(
            str(config.get("body") or ""),
            public=True,
            subject=str(config.get("subject") or ""),
            channel=reply_channel(ctx.w.ticket, str(config.get("via") or "channel")),
        )


class NotifyEffect(EffectApplier):
    def apply(self, ctx: EffectContext, config: dict[str, Any]) -> None:
        ticket = ctx.w.ticket
        emails = {str(e).lower() for e in config.get("agents") or []}
        if team := config.get("team"):
            emails |= set(
                User.objects.filter(teams__name=team, is_active=True).values_list(
                    "email", flat=True
                )
            )
        ctx.queue(
            "notify",
            {
                "to": sorted(emails),
                "subject": f"[#{ticket.pk}] {ticket.subject}",
                "body": str(config.get("message", "")),
                "team": team or "",
            },
        )


class WebhookEffect(EffectApplier):
    """Queues the call; which endpoint signs it and where it may connect is decided again when
    it is delivered (flowdesk.outbox.webhooks), with the endpoint's secrets of that moment."""

    def apply(self, ctx: EffectContext, config: dict[str, Any]) -> None:
        ticket = ctx.w.ticket
        body = config.get("body")
        if body is None:
            body = {
                "ticket_id": ticket.pk,
                "update_id": ctx.w.update.pk,
                "rule": ctx.cause.rule,
                "subject": ticket.subject,
                "status": ticket.status,
                "priority": ticket.priority,
            }
        ctx.queue(
            "webhook",
            {
                "endpoint": config.get("endpoint"),
                "url": config.get("url"),
                "method": config.get("method", "POST"),
                "headers": config.get("headers") or {},
                "body": body,
            },
        )


class SurveyEffect(EffectApplier):
    def apply(self, ctx: EffectContext, config: dict[str, Any]) -> None:
        ticket = ctx.w.ticket
        survey = str(config.get("survey", "csat"))
        name = ticket.requester.name or "there"
        ctx.queue(
            "survey",
            {
                "to": [ticket.requester.email],
                "survey": survey,
                "subject": f"How did we do? [#{ticket.pk}]",
                "body": f'Hi {name}, how did we do on "{ticket.subject}" (#{ticket.pk})?',
            },
        )


class EscalationEffect(EffectApplier):
    def apply(self, ctx: EffectContext, config: dict[str, Any]) -> None:
        ctx.w.log.add(EventKind.ESCALATED, ctx.cause, data=dict(config))


EFFECTS.add("add_note", NoteEffect())
EFFECTS.add("reply", ReplyEffect())
EFFECTS.add("notify", NotifyEffect())
EFFECTS.add("webhook", WebhookEffect())
EFFECTS.add("send_survey", SurveyEffect())
EFFECTS.add("escalation", EscalationEffect())
