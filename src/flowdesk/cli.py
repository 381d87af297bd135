"""The `flowdesk` console command: a front for the management commands.

flowdesk serve --demo        migrate, seed the demo, run the web server and an in-process worker
flowdesk rules validate F    (and import | export | dry-run | explain | versions | restore |
                             flowchart | backtest)
flowdesk calendars import F  (and export [F] | validate | list): business-hours calendars
flowdesk sla policies import F  (and export [F] | validate | list): the ordered SLA policies
flowdesk macros import F     (and export [F] | validate | list): agents' canned replies
flowdesk kb import F         (and validate F | list): knowledge-base articles, all or nothing
flowdesk customers merge SOURCE INTO  (and unmerge SOURCE | identities CUSTOMER)
flowdesk mailbox add NAME    (and list | remove | test | poll NAME): mailboxes (docs/mail.md)
flowdesk mail receive        an LMTP (--smtp: SMTP) receiver in the foreground
flowdesk chat sites list     (and add NAME --origin URL --team T): live-chat sites (docs/chat.md)
flowdesk token create EMAIL  an API token
flowdesk worker              a background worker (any number may run)
flowdesk <django command>    e.g. migrate, createsuperuser

The database is the same wherever the command runs (see FLOWDESK_DATA_DIR in settings). Only
`serve`, `migrate` and `demo` create it; every other command that needs it stops with one line
naming it and what to run when it is missing or not migrated, and creates nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

# Commands that create or migrate the database, and those that never open it.
CREATES_DATABASE = frozenset({"serve", "migrate", "demo"})
NO_DATABASE = frozenset({"help", "check", "version", "makemigrations"})
HELP_FLAGS = frozenset({"-h", "--help", "--version"})


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowdesk.config.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    args[0] = "flowdesk"
    if len(args) == 1:
        args.append("help")
    command = args[1]
    if command not in NO_DATABASE and not HELP_FLAGS.intersection(args):
        import django

        django.setup()
        if command in CREATES_DATABASE:
            _prepare_database(command)
        elif (problem := database_problem()) is not None:
            sys.stderr.write(f"flowdesk: {problem}\n")
            sys.exit(1)
    try:
        execute_from_command_line(args)
    except RecursionError:
        # Every input is checked against its nesting limit first; this is the last line of
        # defence, so that no input ends in a screen of traceback.
        sys.stderr.write("flowdesk: the input is nested too deeply to process\n")
        sys.exit(1)


def _settings_db() -> dict[str, Any]:
    from django.conf import settings

    db: dict[str, Any] = settings.DATABASES["default"]
    return db


def _sqlite_file() -> Path | None:
    """The file of an SQLite database (None for another database, or an in-memory one)."""
    db = _settings_db()
    name = str(db.get("NAME") or "")
    if db["ENGINE"] not in ("django.db.backends.sqlite3", "flowdesk.core.sqlite") or name in (
        "",
        ":memory:",
    ):
        return None
    return None if name.startswith("file:") else Path(name)


def describe_database() -> str:
    """The database, named without its password: a file path, or name@host:port."""
    sqlite = _sqlite_file()
    if sqlite is not None:
        return str(sqlite)
    db = _settings_db()
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"{db.get('NAME')}@{host}{port}"


def database_problem() -> str | None:
    """Why the database cannot be used as it is (missing, unreachable, not migrated), else None.
    Opens nothing that is not there: a missing SQLite file is reported, never created."""
    from django.db import DatabaseError, connection
    from django.db.migrations.executor import MigrationExecutor

    where = describe_database()
    sqlite = _sqlite_file()
    if sqlite is not None and not sqlite.is_file():
        return (
            f"no database at {where}; create it with `flowdesk migrate` (or `flowdesk serve "
            "--demo` for the demo), or point FLOWDESK_DATA_DIR / FLOWDESK_DATABASE_URL at yours"
        )
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"cannot open the database {where}: {reason}"
    finally:
        connection.close()
    if pending:
        return (
            f"the database {where} is not migrated ({len(pending)} migration(s) to apply); "
            "run `flowdesk migrate`"
        )
    return None


def _prepare_database(command: str) -> None:
    """`serve`, `migrate` and `demo` create the database: first its directory; `demo` (which
    seeds an empty database) migrates it first when needed."""
    sqlite = _sqlite_file()
    if sqlite is not None:
        sqlite.parent.mkdir(parents=True, exist_ok=True)
    if command == "demo" and database_problem() is not None:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)


if __name__ == "__main__":
    main()
