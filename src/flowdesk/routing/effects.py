"""Django appliers of the routing actions' effects (registered in automation's EFFECTS by
``RoutingConfig.ready``); they run inside the update's transaction, with the rule's cause."""

from __future__ import annotations

from typing import Any

from flowdesk.automation.effects import EffectApplier, EffectContext
from flowdesk.routing import escalation
from flowdesk.routing.hooks import note_rule_routed
from flowdesk.routing.services import route


class AssignEffect(EffectApplier):
    def apply(self, ctx: EffectContext, config: dict[str, Any]) -> None:
        note_rule_routed(ctx.w)
        team = config.get("team")
        if team is None and ctx.w.ticket.team is not None:
            team = ctx.w.ticket.team.name
        route(
            ctx.w,
            team_name=team,
            strategy=str(config.get("strategy")),
            cause=ctx.cause,
            why=f"rule {ctx.cause.rule}",
        )


class EscalateAlongEffect(EffectApplier):
    def apply(self, ctx: EffectContext, config: dict[str, Any]) -> None:
        escalation.start_path(ctx.w, str(config.get("path")), ctx.cause)
