"""Problems of an import (calendars or SLA policies), located like the rule-set importer's:
``calendars.yaml:7: calendars[1].weekly.mon[0]: ... (did you mean 'mon'?)``.

The issue value is the engine's ``Issue`` (``rule`` is always None here), so the API answers
both kinds of imports with the same shape of error and the CLI prints them the same way.
"""

from __future__ import annotations

import difflib
import functools
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from flowdesk.calendars import WEEKDAYS, Problem
from flowdesk.core.errors import FieldError, FlowdeskError
from flowdesk.engine.compile import Collector
from flowdesk.engine.errors import Issue, RuleSetError
from flowdesk.engine.yamlio import check_yaml_nesting, line_map

_EXPECTED = re.compile(r"unknown field; expected (.+)$")


class SlaImportError(FlowdeskError):
    """An import with one or more problems; nothing was changed."""

    status = 422

    def __init__(self, issues: Iterable[Issue], what: str) -> None:
        self.issues = list(issues)
        self.what = what
        n = len(self.issues)
        head = f"{n} problem{'s' if n != 1 else ''} in {what}"
        super().__init__(head + "".join("\n  " + str(i) for i in self.issues))

    def as_dict(self) -> dict[str, object]:
        return {
            "detail": f"invalid {self.what}; nothing was changed",
            "errors": [{**i.to_dict(), "text": str(i)} for i in self.issues],
        }


def closest(word: object, options: Iterable[str]) -> str | None:
    """The option a typo most likely meant (case-insensitive), else None."""
    if not isinstance(word, str) or not word:
        return None
    by_fold = {o.casefold(): o for o in options}
    if word.casefold() in by_fold and by_fold[word.casefold()] != word:
        return by_fold[word.casefold()]
    found = difflib.get_close_matches(word.casefold(), list(by_fold), n=1, cutoff=0.6)
    return by_fold[found[0]] if found else None


@functools.cache
def _zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def _last_key(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[cut + 1 :].rstrip("]") if cut >= 0 else path


def problem_suggestion(problem: Problem, value: object = None) -> str | None:
    """What the admin probably meant by a calendar problem's value, when we can tell."""
    m = _EXPECTED.match(problem.message)
    if m is not None:
        return closest(_last_key(problem.path), [k.strip() for k in m.group(1).split(",")])
    if "is not a weekday" in problem.message:
        return closest(_last_key(problem.path), WEEKDAYS)
    if "is not an IANA time zone" in problem.message:
        return closest(value, _zones())
    return None


def _lookup(data: object, path: str) -> object:
    """The value at a calendar problem's path in the definition (for a suggestion), else None."""
    node: Any = data
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("[") and isinstance(node, list):
            i = int(part[1:-1])
            node = node[i] if i < len(node) else None
        elif isinstance(node, Mapping):
            node = node.get(part)
        else:
            return None
    return node


def is_unknown_key(message: str) -> bool:
    return message.startswith("unknown field") or "is not a weekday" in message


def problem_field_errors(
    problems: Iterable[Problem], prefix: str, data: object
) -> list[FieldError]:
    """Calendar problems as API field errors under ``prefix`` (``definition``), with the
    suggestion in the message."""
    out = []
    for p in problems:
        hint = problem_suggestion(p, _lookup(data, p.path))
        message = p.message + (f" (did you mean {hint!r}?)" if hint else "")
        out.append(FieldError(f"{prefix}.{p.path}" if p.path else prefix, message))
    return out


class Located:
    """Collects issues of one source, each at the line of its path (``lines`` from line_map)."""

    def __init__(self, source: str, lines: Mapping[str, int] | None) -> None:
        self.source = source
        self.collector = Collector(source, lines)
        self.issues: list[Issue] = []

    def add(
        self, path: str, message: str, suggestion: str | None = None, *, key: bool = False
    ) -> None:
        line = self.collector.line_of(path, key)
        self.issues.append(Issue(self.source, None, path, line, message, suggestion))

    def add_problems(self, problems: Iterable[Problem], prefix: str, data: object) -> None:
        for p in problems:
            full = f"{prefix}.{p.path}" if p.path else prefix
            hint = problem_suggestion(p, _lookup(data, p.path))
            self.add(full, p.message, hint, key=is_unknown_key(p.message))


def load_yaml(text: str, source: str, what: str) -> tuple[Any, dict[str, int]]:
    """Parsed YAML and its path -> line map; a syntax error, a duplicate key or nesting past
    the limit raises SlaImportError with the line."""
    try:
        check_yaml_nesting(text, source=source)
        lines, dups = line_map(text)
        data = yaml.safe_load(text)
    except RuleSetError as exc:
        raise SlaImportError(exc.issues, what) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise SlaImportError(
            [Issue(source, None, "", line, f"YAML syntax error: {problem}")], what
        ) from None
    if dups:
        raise SlaImportError([Issue(source, None, p, n, "duplicate key") for p, n in dups], what)
    return data, lines
