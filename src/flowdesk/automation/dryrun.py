"""Dry run: evaluate a rule set against a ticket (stored or supplied) without writing anything."""

from __future__ import annotations

import difflib
from typing import Any

from flowdesk.automation.catalog import build_catalog
from flowdesk.automation.runner import event_from_json
from flowdesk.automation.services import active_version, compiled_version
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FieldError, NotFound, ValidationFailed
from flowdesk.engine import CompiledRuleSet, compile_ruleset, explain, load_ruleset_yaml
from flowdesk.tickets import snapshot as snap
from flowdesk.tickets.models import Ticket

EVENT_KINDS = ("created", "updated")


def _ruleset(
    yaml_text: str | None, definition: dict[str, Any] | None
) -> tuple[CompiledRuleSet, str]:
    catalog = build_catalog(check_names=True)
    if yaml_text is not None:
        return load_ruleset_yaml(yaml_text, catalog=catalog, source="dry-run"), "candidate"
    if definition is not None:
        return compile_ruleset(definition, catalog=catalog, source="dry-run"), "candidate"
    version = active_version()
    if version is None:
        raise NotFound("no rule set has been imported yet; send one to dry-run")
    return compiled_version(version), f"v{version.number}"


def _check_snapshot(data: dict[str, Any], fields: list[str]) -> list[FieldError]:
    errors = []
    allowed = set(fields) | {"id"}
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(FieldError(f"snapshot.{key}", f"unknown field{hint}"))
    return errors


def _check_event(data: dict[str, Any]) -> list[FieldError]:
    errors = []
    if data.get("kind", "created") not in EVENT_KINDS:
        errors.append(FieldError("event.kind", f"must be one of {', '.join(EVENT_KINDS)}"))
    for key, pair in (data.get("changes") or {}).items():
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            errors.append(FieldError(f"event.changes.{key}", "must be [old, new]"))
    for i, m in enumerate(data.get("messages") or []):
        if not isinstance(m, dict) or m.get("author_kind") not in ("customer", "agent", "system"):
            errors.append(
                FieldError(f"event.messages[{i}].author_kind", "must be customer, agent or system")
            )
    return errors


def dry_run(
    *,
    ticket: Ticket | None,
    snapshot: dict[str, Any] | None,
    event: dict[str, Any] | None,
    yaml_text: str | None,
    definition: dict[str, Any] | None,
) -> dict[str, Any]:
    ruleset, label = _ruleset(yaml_text, definition)
    now = utcnow()
    fields = list(build_catalog(check_names=False).fields)
    if ticket is not None:
        state = snap.build_snapshot(ticket, now)
    elif snapshot is not None:
        errors = _check_snapshot(snapshot, fields)
        if errors:
            raise ValidationFailed(errors)
        state = snap.from_json(snapshot)
    else:
        raise ValidationFailed([FieldError("ticket_id", "give a ticket_id or a snapshot")])
    for name in fields:
        state.setdefault(name, None)
    event_data = dict(
        event or {"kind": "created", "messages": [{"author_kind": "customer", "public": True}]}
    )
    errors = _check_event(event_data)
    if errors:
        raise ValidationFailed(errors)
    event_data.setdefault("kind", "created")
    result = explain(ruleset, state, event_from_json(event_data), now=now)
    return {
        "ruleset": label,
        "snapshot": snap.to_json(state),
        "event": event_data,
        **result.to_dict(),
    }
