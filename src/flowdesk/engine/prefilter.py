"""Literals a regular expression needs, so the needle automaton can rule texts out for it.

A ``matches`` condition costs a regex search per event, over the whole text, and most texts
cannot match: when every match must contain one of a few literal strings, the field's needle
automaton (which runs anyway) tells at once whether any of them is there, and the regex only runs
on texts that have one.

Rule regexes run on RE2 (``conditions.compile_regex``); this module only *reads* the pattern,
with Python's parser, and never runs it. The two syntaxes agree on every literal except inside
POSIX classes (``[[:alpha:]]`` is a class to RE2, but a set plus a literal ``]`` to Python), so
patterns with those get no needles; RE2-only syntax Python cannot parse (``\\pL``, ``\\x{41}``,
``\\z``, ``\\Q...\\E``, a mid-pattern ``(?i)``) simply loses the shortcut.
"""

from __future__ import annotations

import re
import re._constants as _sre_constants
import re._parser as _sre_parser
from typing import Any


def required_needles(pattern: str, most: int = 16) -> frozenset[str]:
    """Folded strings one of which every text matching ``pattern`` contains (empty: none known).

    Sound because ``str.casefold`` maps character by character: if the raw text contains a
    literal, its folded form contains the folded literal. Case-insensitive patterns and flag
    groups are left alone (their literals need not occur as written).
    """
    if "[:" in pattern:  # maybe a POSIX class, which Python would misread (see above)
        return frozenset()
    try:
        parsed = _sre_parser.parse(pattern)
    except Exception:  # an odd pattern only loses the shortcut
        return frozenset()
    if parsed.state.flags & re.IGNORECASE:
        return frozenset()
    found = _required(list(parsed))
    if not found or len(found) > most or min(map(len, found)) < 2:
        return frozenset()
    return frozenset(s.casefold() for s in found)


def _required(items: list[Any]) -> frozenset[str] | None:
    """Literals one of which every match of the sequence ``items`` contains, or None."""
    c = _sre_constants
    options: list[frozenset[str]] = []
    run: list[str] = []
    for op, av in [*items, (None, None)]:
        if op is c.LITERAL:
            run.append(chr(av))
            continue
        if run:
            options.append(frozenset(["".join(run)]))
            run = []
        sub: frozenset[str] | None = None
        if op is c.SUBPATTERN and not av[1] and not av[2]:  # a group without flag changes
            sub = _required(list(av[3]))
        elif op is c.ATOMIC_GROUP:
            sub = _required(list(av))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and av[0] >= 1:
            sub = _required(list(av[2]))
        elif op is c.BRANCH:
            alts = [_required(list(alt)) for alt in av[1]]
            if all(a is not None for a in alts):
                sub = frozenset().union(*(a for a in alts if a is not None))
        if sub:
            options.append(sub)
    if not options:
        return None
    return max(options, key=lambda o: (min(map(len, o)), -len(o)))
