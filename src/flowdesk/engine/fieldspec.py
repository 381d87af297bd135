"""A snapshot field as the engine knows it: name, kind, allowed values, what it refers to."""

from __future__ import annotations

from dataclasses import dataclass

#: Field kinds the engine can evaluate; operators declare which kinds they accept.
KINDS = ("enum", "text", "int", "number", "bool", "tags", "set", "ref", "date", "any")
#: Kinds whose values are sets (frozensets in the engine form, sorted lists in JSON).
SET_KINDS = frozenset({"tags", "set"})


@dataclass(frozen=True)
class FieldSpec:
    """``ref_to`` ("agent" | "team") lets the catalog check names against the installation."""

    name: str
    kind: str
    choices: tuple[str, ...] | None = None
    ref_to: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"unknown field kind {self.kind!r}; expected one of {', '.join(KINDS)}"
            )
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self.choices))

    @property
    def set_valued(self) -> bool:
        return self.kind in SET_KINDS
