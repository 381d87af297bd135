"""The matcher's old home, kept so ``from flowdesk.engine.index import Matcher`` still works.

The index is split by concern: ``dnf.py`` (literals and DNF terms), ``fieldindex.py`` (one
field's masks and the per-event steps), ``matcher.py`` (triggers, steps, residuals, names).
"""

from __future__ import annotations

from .matcher import Matcher

__all__ = ["Matcher"]
