"""Routing actions: hand a ticket to a strategy or to an escalation path.

Both are effect-only: who is free, and what a path's levels are, live in the database, so the
Django side (``flowdesk.routing.effects``) decides and writes through the ticket services. Later
rules of the same cascade therefore do not see the assignee the strategy picks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from .actions import Action, ActionContext, Problem, _Strict, _team_problems, register
from .catalog import Catalog
from .suggest import closest

#: The strategies flowdesk.routing registers (a test keeps the two lists equal).
STRATEGY_NAMES = ("least_open", "round_robin", "skills")
StrategyName = Literal["least_open", "round_robin", "skills"]


class AssignConfig(_Strict):
    strategy: StrategyName = Field(description="How to pick the agent among the team's members.")
    team: str | None = Field(
        default=None, description="Team whose members are candidates (default: the ticket's team)."
    )


@register
class Assign(Action[AssignConfig]):
    """Assign the ticket to an available team member with a free slot, chosen by a strategy
    (effect only: the choice is made against current loads when the update is applied)."""

    name = "assign"
    Config = AssignConfig

    @classmethod
    def check(
        cls, catalog: Catalog, config: AssignConfig, templates: Mapping[str, Any]
    ) -> list[Problem]:
        return _team_problems(catalog, config.team)

    def apply(self, ctx: ActionContext) -> None:
        ctx.emit(
            "assign",
            {"strategy": self.config.strategy, "team": self.config.team or ctx.get("team")},
        )


class EscalateAlongConfig(_Strict):
    path: str = Field(min_length=1, max_length=100, description="Name of an escalation path.")


@register
class EscalateAlong(Action[EscalateAlongConfig]):
    """Start an escalation path: its level 0 applies now, the next levels on their timers
    (effect only). A path unknown when the rule set is saved is refused then; one deleted later
    is reported as an automation error when the rule runs."""

    name = "escalate_along"
    Config = EscalateAlongConfig

    @classmethod
    def check(
        cls, catalog: Catalog, config: EscalateAlongConfig, templates: Mapping[str, Any]
    ) -> list[Problem]:
        known = catalog.escalation_paths
        if known is None or config.path in known:
            return []
        return [("path", f"unknown escalation path {config.path!r}", closest(config.path, known))]

    def apply(self, ctx: ActionContext) -> None:
        ctx.emit("escalate_along", {"path": self.config.path})
