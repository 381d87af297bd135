"""Dry run: evaluate a rule set against a ticket (stored or supplied) without writing anything."""

from __future__ import annotations

import difflib
from typing import Any

from flowdesk.automation.catalog import build_catalog
from flowdesk.automation.runner import event_from_json
from flowdesk.automation.services import active_version, compiled_version
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FieldError, NotFound, ValidationFailed
from flowdesk.engine import (
    Catalog,
    CompiledRuleSet,
    FieldSpec,
    compile_ruleset,
    explain,
    load_ruleset_yaml,
)
from flowdesk.engine.limits import check_nesting
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


def _kind_problem(spec: FieldSpec, value: Any) -> str | None:
    """The type a supplied snapshot value must have, by the catalog's field kind."""
    if value is None:
        return None
    kind = spec.kind
    if kind in ("tags", "set"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "must be a list of strings"
    elif kind == "enum":
        if spec.choices and value not in spec.choices:
            return f"{value!r} is not one of {', '.join(spec.choices)}"
    elif kind in ("text", "ref", "date"):
        if not isinstance(value, str):
            return "must be a string"
    elif kind in ("int", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number"
    elif kind == "bool" and not isinstance(value, bool):
        return "must be true or false"
    return None


def _check_snapshot(data: dict[str, Any], catalog: Catalog) -> list[FieldError]:
    errors = []
    allowed = set(catalog.fields) | {"id"}
    for key, value in data.items():
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(FieldError(f"snapshot.{key}", f"unknown field{hint}"))
        elif key != "id" and (problem := _kind_problem(catalog.fields[key], value)):
            errors.append(FieldError(f"snapshot.{key}", problem))
    return errors


def _check_event(data: dict[str, Any], catalog: Catalog) -> list[FieldError]:
    errors = []
    unknown = set(data) - {"kind", "changes", "messages"}
    errors += [FieldError(f"event.{k}", "unknown key (kind, changes, messages)") for k in unknown]
    if data.get("kind", "created") not in EVENT_KINDS:
        errors.append(FieldError("event.kind", f"must be one of {', '.join(EVENT_KINDS)}"))
    changes = data.get("changes") or {}
    if not isinstance(changes, dict):
        errors.append(FieldError("event.changes", "must be a mapping field -> [old, new]"))
        changes = {}
    for key, pair in changes.items():
        where = f"event.changes.{key}"
        if key not in catalog.fields:
            close = difflib.get_close_matches(key, sorted(catalog.fields), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(FieldError(where, f"unknown field{hint}"))
        elif not isinstance(pair, list) or len(pair) != 2:
            errors.append(FieldError(where, "must be [old, new]"))
        else:
            for side, value in zip(("old", "new"), pair, strict=True):
                if problem := _kind_problem(catalog.fields[key], value):
                    errors.append(FieldError(f"{where}.{side}", problem))
    messages = data.get("messages") or []
    if not isinstance(messages, list):
        errors.append(FieldError("event.messages", "must be a list"))
        messages = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("author_kind") not in ("customer", "agent", "system"):
            errors.append(
                FieldError(f"event.messages[{i}].author_kind", "must be customer, agent or system")
            )
        elif not isinstance(m.get("public", True), bool):
            errors.append(FieldError(f"event.messages[{i}].public", "must be true or false"))
    return errors


def dry_run(
    *,
    ticket: Ticket | None,
    snapshot: dict[str, Any] | None,
    event: dict[str, Any] | None,
    yaml_text: str | None,
    definition: dict[str, Any] | None,
) -> dict[str, Any]:
    check_nesting(  # snapshots and events from a file (the CLI) are checked here
        {"snapshot": snapshot, "event": event},
        lambda path, message: ValidationFailed([FieldError(path, message)]),
        levels_above=1,
    )
    ruleset, label = _ruleset(yaml_text, definition)
    now = utcnow()
    catalog = build_catalog(check_names=False)
    fields = list(catalog.fields)
    if ticket is not None:
        state = snap.build_snapshot(ticket, now)
    elif snapshot is not None:
        errors = _check_snapshot(snapshot, catalog)
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
    errors = _check_event(event_data, catalog)
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
