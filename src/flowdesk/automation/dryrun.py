"""Dry run: evaluate a rule set against a ticket (stored or supplied) without writing anything."""

from __future__ import annotations

import difflib
import math
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache

from flowdesk.accounts.models import User
from flowdesk.automation.catalog import build_catalog
from flowdesk.automation.runner import event_from_json
from flowdesk.automation.services import active_version, compiled_version
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FieldError, FlowdeskError, NotFound, ValidationFailed
from flowdesk.engine import Catalog, CompiledRuleSet, compile_ruleset, explain, load_ruleset_yaml
from flowdesk.engine.catalog import value_problem
from flowdesk.engine.limits import check_nesting
from flowdesk.tickets import snapshot as snap
from flowdesk.tickets.fields import Registry
from flowdesk.tickets.models import Ticket
from flowdesk.tickets.services import write_guard

EVENT_KINDS = ("created", "updated")
RATE_WINDOW_SECONDS = 60


class DryRunRateLimited(FlowdeskError):
    """Too many dry runs by one user in the current minute; ``retry_after`` is in seconds."""

    status = 429

    def __init__(self, limit: int, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"at most {limit} dry runs per minute per user (setting FLOWDESK_DRY_RUN_PER_MINUTE); "
            f"retry in {retry_after} s"
        )


def check_dry_run_rate(user: User, now: datetime) -> None:
    """Count one dry run of ``user`` and refuse it past ``FLOWDESK_DRY_RUN_PER_MINUTE``.

    A dry run compiles whatever rule set the caller sends (up to the rules body limit) and runs
    it: without a limit one agent could keep a worker busy. Fixed one-minute windows, counted in
    Django's cache (``cache.add`` + ``cache.incr`` are atomic): per process with the default
    local-memory cache, shared by every process when ``CACHES`` points at a shared one. The key
    has the user's creation time too, so a user re-created under a reused id starts afresh."""
    limit = int(settings.FLOWDESK.get("DRY_RUN_PER_MINUTE", 30))
    if limit <= 0:
        return
    ts = now.timestamp()
    window = int(ts // RATE_WINDOW_SECONDS)
    key = f"flowdesk:dry-run:{user.pk}:{user.created_at.timestamp():.6f}:{window}"
    cache.add(key, 0, timeout=2 * RATE_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=2 * RATE_WINDOW_SECONDS)
        count = 1
    if count > limit:
        retry = math.ceil((window + 1) * RATE_WINDOW_SECONDS - ts)
        raise DryRunRateLimited(limit, max(1, retry))


def candidate_ruleset(
    yaml_text: str | None, definition: dict[str, Any] | None, source: str = "dry-run"
) -> tuple[CompiledRuleSet, str]:
    """The candidate sent (validated like an import: errors name ``source``, rule, path and
    line), else the active set; with its label (``candidate`` or ``v<n>``)."""
    catalog = build_catalog(check_names=True)
    if yaml_text is not None:
        return load_ruleset_yaml(yaml_text, catalog=catalog, source=source), "candidate"
    if definition is not None:
        return compile_ruleset(definition, catalog=catalog, source=source), "candidate"
    version = active_version()
    if version is None:
        raise NotFound("no rule set has been imported yet; send one to dry-run")
    return compiled_version(version), f"v{version.number}"


def _check_snapshot(data: dict[str, Any], catalog: Catalog) -> list[FieldError]:
    errors = []
    allowed = set(catalog.fields) | {"id"}
    for key, value in data.items():
        spec = catalog.field(key)
        if key not in allowed and (spec is None or spec.name != key):
            close = catalog.suggest_field(key)
            hint = f" (did you mean {close!r}?)" if close else ""
            errors.append(FieldError(f"snapshot.{key}", f"unknown field{hint}"))
        elif spec is not None and key != "id" and (problem := value_problem(catalog, spec, value)):
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
                if problem := value_problem(catalog, catalog.fields[key], value):
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
    ruleset, label = candidate_ruleset(yaml_text, definition)
    now = utcnow()
    catalog = build_catalog(check_names=False)
    fields = list(catalog.fields)
    if ticket is not None:
        state = snap.load_snapshot(ticket, now)
    elif snapshot is not None:
        errors = _check_snapshot(snapshot, catalog)
        if errors:
            raise ValidationFailed(errors)
        state = snap.from_json(snapshot)
    else:
        raise ValidationFailed([FieldError("ticket_id", "give a ticket_id or a snapshot")])
    for name in fields:
        state.setdefault(name, None)
    # The default is what creating a ticket really is: a `created` event with no messages (the
    # first message is the request, not a reply), so message rules do not fire here falsely.
    event_data = dict(event or {"kind": "created"})
    errors = _check_event(event_data, catalog)
    if errors:
        raise ValidationFailed(errors)
    event_data.setdefault("kind", "created")
    guard = write_guard(Registry())
    result = explain(ruleset, state, event_from_json(event_data), now=now, guard=guard)
    return {
        "ruleset": label,
        "snapshot": snap.to_json(state),
        "event": event_data,
        **result.to_dict(),
    }
