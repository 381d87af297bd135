"""Closest-name suggestions for error messages.

Kept in one place so every "unknown X" error suggests the same way (difflib: no new dependency).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The most similar candidate, or None when nothing is close enough to be a likely typo."""
    pool = [c for c in candidates if isinstance(c, str)]
    if not isinstance(word, str) or not pool:
        return None
    found = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if found:
        return found[0]
    lowered = {c.lower(): c for c in pool}
    found = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[found[0]] if found else None
