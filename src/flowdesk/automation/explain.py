"""Recomputes the explanation of a stored update from its snapshot, event and rule-set version.

Only what fired is stored; the explanation (including rules that did not match and why) is
recomputed from the exact engine input, so it is the same answer the engine gave then. By default
it is a summary (the fired rules and the closest misses, every rule counted); ``full=True`` lists
every rule with its condition tree.
"""

from __future__ import annotations

import json
from typing import Any

from flowdesk.automation.runner import event_from_json
from flowdesk.automation.services import compiled_number
from flowdesk.engine import explain
from flowdesk.engine.actions import Guard
from flowdesk.engine.types import to_jsonable
from flowdesk.tickets import snapshot as snap
from flowdesk.tickets.models import TicketUpdate


def _replayed_guard(stored: dict[str, Any]) -> Guard:
    """Refuse exactly the writes that were refused then (teams and agents may have changed
    since), so the recomputed explanation is the one the engine gave."""
    refused = {
        (r["rule"], r["field"], json.dumps(r["value"], sort_keys=True)): r["reason"]
        for r in stored.get("rejected", [])
    }

    def guard(rule: str, field: str, value: Any) -> str | None:
        return refused.get((rule, field, json.dumps(to_jsonable(value), sort_keys=True)))

    return guard


def explain_update(update: TicketUpdate, *, full: bool = False) -> dict[str, Any]:
    assert update.ruleset_version is not None
    assert update.engine_snapshot is not None
    ruleset = compiled_number(update.ruleset_version)
    result = explain(
        ruleset,
        snap.from_json(update.engine_snapshot),
        event_from_json(update.engine_event or {"kind": "updated"}),
        now=update.created_at,
        guard=_replayed_guard(update.automation or {}),
        full=full,
    )
    return {
        "ticket_id": update.ticket_id,
        "update_id": update.pk,
        "ruleset_version": update.ruleset_version,
        "created_at": update.created_at.isoformat(),
        "stored": update.automation,
        **result.to_dict(),
    }
