"""Compile-time problems: every problem of a rule set is collected, then raised together.

Admins fix rule files in one go only if they see all problems at once, each pointing at a line.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Issue:
    """One problem, located as precisely as we can: file, rule, path inside the rule, YAML line."""

    source: str
    rule: str | None
    path: str
    line: int | None
    message: str
    suggestion: str | None = None

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        parts = [where]
        if self.rule is not None:
            parts.append(f"rule {self.rule!r}")
        if self.path:
            parts.append(self.path)
        text = ": ".join(parts) + ": " + self.message
        if self.suggestion is not None:
            text += f" (did you mean {self.suggestion!r}?)"
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "rule": self.rule,
            "path": self.path,
            "line": self.line,
            "message": self.message,
            "suggestion": self.suggestion,
        }


@dataclass
class RuleSetError(Exception):
    """Raised by compile/load with *all* issues found, so callers can show them together."""

    issues: list[Issue] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.__str__())

    def __str__(self) -> str:
        n = len(self.issues)
        head = f"{n} problem{'s' if n != 1 else ''} in rule set"
        return head + "".join("\n  " + str(i) for i in self.issues)
