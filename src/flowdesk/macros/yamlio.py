"""Macros as a YAML file (``flowdesk macros import | export | validate``). Importing is all or
nothing: every entry is checked first (its shape, then against the desk, exactly as the API
checks one), and any problem, reported as ``file:line: macros[i].path: message (did you mean
...?)``, changes nothing. A macro is matched by name (case-insensitive): new names are created,
known ones replaced (their usage count kept); ``prune`` also deletes the macros the file leaves
out, so that the file is the whole set.

    macros:
      - name: Ask for order number
        position: 10
        reply:
          body: |
            Hi {{ requester.name | default("there") }}, could you send us your order number?
        changes: {status: pending, add_tags: [awaiting-order-number]}
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml
from django.db import transaction

from flowdesk.accounts.models import User
from flowdesk.engine.compile import join
from flowdesk.macros.definition import Desk, MacroDef, definition_of, desk_problems, parse_shape
from flowdesk.macros.models import Macro
from flowdesk.macros.services import fill
from flowdesk.sla.issues import Located, SlaImportError, closest, load_yaml

WHAT = "macros"
#: a definition's values that an exported entry leaves out (they are the defaults)
_DEFAULTS: dict[str, Any] = {
    "description": "",
    "active": True,
    "visibility": "everyone",
    "team": None,
    "owner": None,
    "position": 0,
    "reply": None,
    "changes": {},
}


OUTCOMES = ("created", "updated", "unchanged", "deleted")


@dataclass
class MacroImport:
    """What an import did: macro name -> one of OUTCOMES."""

    outcome: dict[str, str] = field(default_factory=dict)

    def names(self, outcome: str) -> list[str]:
        return [name for name, done in self.outcome.items() if done == outcome]

    def summary(self) -> str:
        counts = Counter(self.outcome.values())
        return ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts[o]) or "no macros"


def _items(data: object, out: Located) -> list[Any]:
    if not isinstance(data, dict):
        out.add("", f"the file must be an object with a {WHAT!r} list")
        return []
    for key in data:
        if key != WHAT:
            out.add(
                str(key), f"unknown key; expected {WHAT!r}", closest(str(key), [WHAT]), key=True
            )
    items = data.get(WHAT)
    if not isinstance(items, list):
        out.add(WHAT, f"is required: a list ({WHAT}: [] for none)")
        return []
    return items


def parse_macros(text: str, source: str) -> list[MacroDef]:
    """Every macro of the file, checked; raises SlaImportError listing every problem."""
    data, lines = load_yaml(text, source, WHAT)
    out = Located(source, lines)
    parsed: list[MacroDef] = []
    desk = Desk()
    seen: dict[str, int] = {}
    for i, item in enumerate(_items(data, out)):
        where = f"{WHAT}[{i}]"
        d, problems = parse_shape(item)
        if d is not None:
            problems = desk_problems(d, desk)
            first = seen.setdefault(d.name.strip().casefold(), i)
            if first != i:
                problems.append(("name", f"{d.name!r} is already {WHAT}[{first}]", None))
        for path, message, hint in problems:
            out.add(
                join(where, path) if path else where, message, hint, key=message == "unknown key"
            )
        if d is not None and not problems:
            parsed.append(d)
    if out.issues:
        raise SlaImportError(out.issues, WHAT)
    return parsed


def check_import_macros_yaml(
    text: str, *, source: str, actor: User | None, now: datetime, prune: bool = False
) -> MacroImport:
    parsed = parse_macros(text, source)
    desk = Desk()
    result = MacroImport()
    with transaction.atomic():
        existing = {m.name.casefold(): m for m in Macro.objects.select_related("team", "owner")}
        for d in parsed:
            row = existing.pop(d.name.strip().casefold(), None) or Macro()
            before = definition_of(row) if row.pk is not None else None
            fill(row, d, desk, actor=actor, now=now)
            if before is None or before != definition_of(row):
                row.save()
                result.outcome[row.name] = "created" if before is None else "updated"
            else:
                result.outcome[row.name] = "unchanged"
        for row in existing.values() if prune else ():
            result.outcome[row.name] = "deleted"
            row.delete()
    return result


class _Dumper(yaml.SafeDumper):
    """Multi-line text (a reply's body) as a literal block, as people write it."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def export_macros_yaml() -> str:
    """Every macro, in list order; imports back to the same."""
    entries = []
    for row in Macro.objects.select_related("team", "owner").order_by("position", "name"):
        d = definition_of(row)
        entries.append({k: v for k, v in d.items() if k not in _DEFAULTS or v != _DEFAULTS[k]})
    text: str = yaml.dump(
        {WHAT: entries}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
    return text
