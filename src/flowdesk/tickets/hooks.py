"""The seam between the ticket services and automation: after an update's own changes, the
services call the registered update hooks inside the same transaction.

Dependencies point one way: the automation package imports the ticket services and registers
its runner here (``AutomationConfig.ready``); the services never import automation. A hook gets
the open write (to apply its own changes through the same services), the engine event of the
update, and the snapshot as the update left it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowdesk.engine import Event

if TYPE_CHECKING:
    from flowdesk.tickets.services import TicketWrite

UpdateHook = Callable[["TicketWrite", Event, dict[str, Any]], None]
_hooks: list[UpdateHook] = []


def register_update_hook(hook: UpdateHook) -> None:
    if hook not in _hooks:
        _hooks.append(hook)


def run_update_hooks(write: TicketWrite, event: Event, snapshot: dict[str, Any]) -> None:
    for hook in _hooks:
        hook(write, event, snapshot)
