"""Recomputes the explanation of a stored update from its snapshot, event and rule-set version.

Only what fired is stored; the full explanation (including rules that did not match and why)
is recomputed from the exact engine input, so it is the same answer the engine gave then.
"""

from __future__ import annotations

from typing import Any

from flowdesk.automation.runner import event_from_json
from flowdesk.automation.services import compiled_version, get_version
from flowdesk.engine import explain
from flowdesk.tickets import snapshot as snap
from flowdesk.tickets.models import TicketUpdate


def explain_update(update: TicketUpdate) -> dict[str, Any]:
    assert update.ruleset_version is not None and update.engine_snapshot is not None
    ruleset = compiled_version(get_version(update.ruleset_version))
    result = explain(
        ruleset,
        snap.from_json(update.engine_snapshot),
        event_from_json(update.engine_event or {"kind": "updated"}),
        now=update.created_at,
    )
    return {
        "ticket_id": update.ticket_id,
        "update_id": update.pk,
        "ruleset_version": update.ruleset_version,
        "created_at": update.created_at.isoformat(),
        "stored": update.automation,
        **result.to_dict(),
    }
