"""Seam for time rules (SLA, "pending for 48 business hours"): a later feature.

A trigger class with ``time_based = True`` will be asked for the earliest instant it could match;
``next_due`` returns the minimum over the rule set, so the Django side arms one durable timer.
No time-based trigger is registered yet, so it returns None.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from .compile import CompiledRuleSet


def next_due(
    ruleset: CompiledRuleSet, snapshot: Mapping[str, Any], now: dt.datetime
) -> dt.datetime | None:
    due: dt.datetime | None = None
    for rule in ruleset.rules:
        if not rule.enabled:
            continue
        for trig in rule.triggers:
            if trig.time_based:
                when = getattr(trig, "next_due", lambda s, n: None)(snapshot, now)
                if when is not None and (due is None or when < due):
                    due = when
    return due
