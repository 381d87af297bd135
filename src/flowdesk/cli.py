"""The `flowdesk` console command: a front for the management commands.

flowdesk serve --demo        migrate, seed the demo, run the web server and an in-process worker
flowdesk rules validate F    (and import | export | dry-run | explain | versions | restore)
flowdesk token create EMAIL  an API token
flowdesk worker              a background worker (any number may run)
flowdesk <django command>    e.g. migrate, createsuperuser
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowdesk.config.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    args[0] = "flowdesk"
    if len(args) == 1:
        args.append("help")
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
