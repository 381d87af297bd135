"""Assignment strategies: one registered class each, choosing among eligible candidates.

A strategy sees only candidates that are available and have a free slot (the service filters
and records the others with why), and answers one candidate or None, with a reason. Pure: no
database, no clock; the service passes the loads it counted inside the team's lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from flowdesk.core.registry import Registry


@dataclass
class Candidate:
    user_id: int
    email: str
    open_tickets: int
    capacity: int | None
    availability: str
    last_assigned_at: datetime | None
    skills: frozenset[str] = frozenset()
    matched: tuple[str, ...] = ()
    #: why the candidate cannot take the ticket ("" = eligible)
    skipped: str = ""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "agent": self.email,
            "open": self.open_tickets,
            "capacity": self.capacity,
            "availability": self.availability,
        }
        if self.matched:
            out["matched_skills"] = list(self.matched)
        if self.skipped:
            out["skipped"] = self.skipped
        return out


@dataclass
class TeamState:
    """What a strategy may read and move: the team's routing row, as plain values."""

    rr_last_user_id: int | None = None


@dataclass
class Choice:
    candidate: Candidate | None
    reason: str
    state: TeamState = field(default_factory=TeamState)


class Strategy:
    name: ClassVar[str]
    description: ClassVar[str]

    def choose(self, eligible: Sequence[Candidate], state: TeamState) -> Choice:
        raise NotImplementedError


STRATEGIES: Registry[Strategy] = Registry("assignment strategy")


def register(cls: type[Strategy]) -> type[Strategy]:
    STRATEGIES.add(cls.name, cls())
    return cls


_NEVER = datetime.min.replace(tzinfo=UTC)


def _least_open_key(c: Candidate) -> tuple[int, datetime, int]:
    # Fewest open tickets; ties go to whoever waited longest since their last assignment
    # (never assigned first), then to the lower id so the answer is deterministic.
    return (c.open_tickets, c.last_assigned_at or _NEVER, c.user_id)


@register
class RoundRobin(Strategy):
    name = "round_robin"
    description = "Rotate among the team's members (in id order) after the last one chosen."

    def choose(self, eligible: Sequence[Candidate], state: TeamState) -> Choice:
        ordered = sorted(eligible, key=lambda c: c.user_id)
        if not ordered:
            return Choice(None, "no member is available with a free slot", state)
        last = state.rr_last_user_id
        after = [c for c in ordered if last is not None and c.user_id > last]
        chosen = after[0] if after else ordered[0]
        reason = "next in rotation" if last is not None else "first in rotation"
        return Choice(chosen, reason, TeamState(rr_last_user_id=chosen.user_id))


@register
class LeastOpen(Strategy):
    name = "least_open"
    description = "Fewest open tickets; ties: longest since their last assignment."

    def choose(self, eligible: Sequence[Candidate], state: TeamState) -> Choice:
        if not eligible:
            return Choice(None, "no member is available with a free slot", state)
        chosen = min(eligible, key=_least_open_key)
        return Choice(chosen, f"fewest open tickets ({chosen.open_tickets})", state)


@register
class Skills(Strategy):
    name = "skills"
    description = (
        "Most skills matching the ticket's language, product and tags; then fewest open tickets."
    )

    def choose(self, eligible: Sequence[Candidate], state: TeamState) -> Choice:
        if not eligible:
            return Choice(None, "no member is available with a free slot", state)
        chosen = min(eligible, key=lambda c: (-len(c.matched), *_least_open_key(c)))
        if chosen.matched:
            reason = (
                f"most matching skills ({', '.join(chosen.matched)}), "
                f"then fewest open tickets ({chosen.open_tickets})"
            )
        else:
            reason = f"no member matches a skill; fewest open tickets ({chosen.open_tickets})"
        return Choice(chosen, reason, state)
