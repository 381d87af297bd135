"""The seams between the ticket services and the packages above them (automation, SLA, timers,
routing): the services call what is registered here; they never import those packages.

**Update hooks** run inside an update's transaction, after the update's own changes, in four
phases, each in registration order:

- ``prepare``: bring derived state up to date before rules look at the ticket (SLA clocks are
  recomputed, a breach that came due is recorded); a hook may add keys to the snapshot dict it
  is given (and to ``write.derived``, so later snapshots of this write carry them).
- ``rules``: the automation runner (the rule cascade), which applies its plan through the same
  services.
- ``settle``: react to the final state of the update (SLA clocks after the rules' changes,
  routing's return timer).
- ``arm``: what reads the settled state, SLA clocks included: the time rules' timer.

A hook gets the open write, the engine event of the update and the snapshot as the update left
it. **Snapshot providers** compute the same derived keys for a read outside a write (dry runs,
explanations): ``provided_values(ticket, now)``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from flowdesk.engine import Event

if TYPE_CHECKING:
    from flowdesk.tickets.models import Ticket
    from flowdesk.tickets.services import TicketWrite

Phase = Literal["prepare", "rules", "settle", "arm"]
PHASES: tuple[Phase, ...] = ("prepare", "rules", "settle", "arm")
UpdateHook = Callable[["TicketWrite", Event, dict[str, Any]], None]
SnapshotProvider = Callable[["Ticket", datetime], dict[str, Any]]
_hooks: dict[Phase, list[UpdateHook]] = {phase: [] for phase in PHASES}
_providers: list[SnapshotProvider] = []


def register_update_hook(hook: UpdateHook, phase: Phase = "rules") -> None:
    if hook not in _hooks[phase]:
        _hooks[phase].append(hook)


def run_update_hooks(write: TicketWrite, event: Event, snapshot: dict[str, Any]) -> None:
    for phase in PHASES:
        for hook in _hooks[phase]:
            hook(write, event, snapshot)


def register_snapshot_provider(provider: SnapshotProvider) -> None:
    if provider not in _providers:
        _providers.append(provider)


def provided_values(ticket: Ticket, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for provider in _providers:
        out.update(provider(ticket, now))
    return out
