"""Backtest: where a candidate rule set (or one rule of it) would have fired over the stored
updates of the last N days, compared with what really fired then.

Every update the rules evaluated keeps the exact engine input (snapshot + event) and its
instant on its row (runner._store_input), so the candidate runs on what the engine saw then,
through the same pure cascade (``run_cascade``), with today's write guard and calendars. What
really fired is read from the ``rule_fired`` events of the same updates.

Bounded: updates are read newest first through one streaming query (``iterator()``), in
chunks of CHUNK rows, and the scan stops at ``limit`` updates or at the first update older than
the window (ids grow with time), so memory stays constant whatever the history holds: what is
kept is one chunk, a tally per rule and at most ``sample`` update references per rule and list.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flowdesk.automation.context import engine_context
from flowdesk.automation.runner import event_from_json
from flowdesk.core.errors import FieldError, ValidationFailed
from flowdesk.engine import CompiledRuleSet, run_cascade
from flowdesk.engine.flowchart import is_time_rule
from flowdesk.tickets import snapshot as snap
from flowdesk.tickets.fields import Registry
from flowdesk.tickets.models import EventKind, TicketEvent, TicketUpdate
from flowdesk.tickets.services import write_guard

#: updates read per round trip (and the events of that many updates per events query)
CHUNK = 500
DEFAULT_LIMIT = 5_000
LIMIT_MAX = 50_000
DAYS_MAX = 366
SAMPLE_MAX = 100
LISTS = ("would_fire", "only_backtest", "only_actual")


@dataclass
class _Tally:
    in_candidate: bool
    time_rule: bool = False
    would_fire: int = 0
    actually_fired: int = 0
    both: int = 0
    errors: int = 0
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {k: [] for k in LISTS})

    def to_dict(self, name: str) -> dict[str, Any]:
        return {
            "rule": name,
            "in_candidate": self.in_candidate,
            "time_rule": self.time_rule,
            "would_fire": self.would_fire,
            "actually_fired": self.actually_fired,
            "both": self.both,
            "only_backtest": self.would_fire - self.both,
            "only_actual": self.actually_fired - self.both,
            "errors": self.errors,
            "samples": self.samples,
        }


@dataclass(frozen=True)
class _Row:
    id: int
    ticket_id: int
    created_at: datetime
    snapshot: dict[str, Any]
    event: dict[str, Any] | None


def check_options(ruleset: CompiledRuleSet, rule: str | None) -> None:
    if rule is not None and rule not in ruleset.by_name:
        close = difflib.get_close_matches(rule, ruleset.names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValidationFailed([FieldError("rule", f"no rule named {rule!r} in the set{hint}")])


class _Backtest:
    def __init__(self, ruleset: CompiledRuleSet, rule: str | None, sample: int) -> None:
        self.ruleset = ruleset
        self.only = rule
        self.sample = sample
        self.fields = tuple(ruleset.catalog.fields)
        self.guard = write_guard(Registry())
        self.context = engine_context()
        self.tallies: dict[str, _Tally] = {
            r.name: _Tally(True, is_time_rule(r))
            for r in ruleset.rules
            if rule is None or r.name == rule
        }
        self.differing = 0

    def tally(self, name: str) -> _Tally | None:
        if self.only is not None and name != self.only:
            return None
        t = self.tallies.get(name)
        if t is None:  # fired then, and is not in the candidate
            t = self.tallies[name] = _Tally(False)
        return t

    def keep(self, t: _Tally, which: str, row: _Row) -> None:
        samples = t.samples[which]
        if len(samples) < self.sample:
            samples.append(
                {
                    "ticket_id": row.ticket_id,
                    "update_id": row.id,
                    "created_at": row.created_at.isoformat(),
                }
            )

    def run(self, rows: list[_Row]) -> None:
        actual: dict[int, set[str]] = {}
        events = TicketEvent.objects.filter(
            update_id__in=[r.id for r in rows], kind=EventKind.RULE_FIRED
        ).values_list("update_id", "rule")
        for update_id, name in events:
            actual.setdefault(update_id, set()).add(name)
        for row in rows:
            self.one(row, actual.get(row.id, set()))

    def one(self, row: _Row, actual: set[str]) -> None:
        state = snap.from_json(row.snapshot)
        for name in self.fields:
            state.setdefault(name, None)
        event = event_from_json(row.event or {"kind": "updated"})
        result = run_cascade(
            self.ruleset,
            state,
            event,
            now=row.created_at,
            guard=self.guard,
            context=self.context,
        )
        fired = {f.rule for f in result.fired}
        if self.only is not None:
            fired, actual = fired & {self.only}, actual & {self.only}
        if fired != actual:
            self.differing += 1
        for failure in result.errors:
            t = self.tally(failure.rule)
            if t is not None:
                t.errors += 1
        for name in fired | actual:
            t = self.tally(name)
            if t is None:
                continue
            if name in fired:
                t.would_fire += 1
                self.keep(t, "would_fire", row)
            if name in actual:
                t.actually_fired += 1
            if name in fired and name in actual:
                t.both += 1
            elif name in fired:
                self.keep(t, "only_backtest", row)
            else:
                self.keep(t, "only_actual", row)


def backtest(
    ruleset: CompiledRuleSet,
    *,
    days: int,
    now: datetime,
    rule: str | None = None,
    limit: int = DEFAULT_LIMIT,
    sample: int = 10,
    label: str = "candidate",
) -> dict[str, Any]:
    """Run ``ruleset`` on the stored updates of the last ``days`` days (newest first, at most
    ``limit``) and tally, per rule, where it would have fired against what really fired."""
    check_options(ruleset, rule)
    since = now - timedelta(days=days)
    job = _Backtest(ruleset, rule, sample)
    rows = (
        TicketUpdate.objects.filter(engine_snapshot__isnull=False)
        .order_by("-id")
        .values_list("id", "ticket_id", "created_at", "engine_snapshot", "engine_event")
    )
    scanned = 0
    stopped_by = "window"  # the history ran out, or an update older than the window came
    oldest: datetime | None = None
    chunk: list[_Row] = []
    for pk, ticket_id, created_at, snapshot, event in rows.iterator(chunk_size=CHUNK):
        if created_at < since:
            break
        if scanned == limit:
            stopped_by = "limit"
            break
        if created_at > now:
            continue  # stored after the backtest began
        scanned += 1
        oldest = created_at
        chunk.append(_Row(pk, ticket_id, created_at, snapshot or {}, event))
        if len(chunk) == CHUNK:
            job.run(chunk)
            chunk = []
    if chunk:
        job.run(chunk)
    names = list(job.tallies)
    return {
        "ruleset": label,
        "rule": rule,
        "days": days,
        "since": since.isoformat(),
        "until": now.isoformat(),
        "limit": limit,
        "scanned": scanned,
        "stopped_by": stopped_by,
        "oldest_scanned": oldest.isoformat() if oldest is not None else None,
        "differing_updates": job.differing,
        "rules": [job.tallies[n].to_dict(n) for n in names],
    }
