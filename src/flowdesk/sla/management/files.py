"""Reading and writing the files of the calendar and SLA policy commands (not a command)."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


def read_text(path: str) -> tuple[str, str]:
    """The text of ``path`` (``-``: stdin) and the name issues are reported under."""
    if path == "-":
        return sys.stdin.read(), "<stdin>"
    p = Path(path)
    if not p.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        return p.read_text(encoding="utf-8"), path
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not UTF-8 text") from None


def write_text(command: BaseCommand, path: str, text: str) -> None:
    if path == "-":
        command.stdout.write(text, ending="")
    else:
        Path(path).write_text(text, encoding="utf-8")
