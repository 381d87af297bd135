"""A real Dovecot IMAP server for the tests: started in the foreground on 127.0.0.1 on a free
port, with a passwd-file and maildirs in a temporary directory; stopped (and its files removed)
at the end. Debian's ``dovecot-imapd`` must be installed (scripts/test installs it)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "support@desk.test"
PASSWORD = "imap-secret"

_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {owner}
default_login_user = {owner}
first_valid_uid = {uid}
mail_location = maildir:{root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Archive {{
    auto = create
  }}
}}
"""


@dataclass
class Dovecot:
    host: str
    port: int
    user: str
    password: str
    root: Path

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def mailbox_fields(server: Dovecot, **fields: Any) -> dict[str, Any]:
    """The fields of an IMAP mailbox on ``server`` (API body / ``check_create_mailbox``)."""
    return {
        "name": "support",
        "kind": "imap",
        "host": server.host,
        "port": server.port,
        "tls": "none",
        "username": server.user,
        "password": server.password,
        "addresses": [server.user],
        **fields,
    }


def available() -> str | None:
    """None when Dovecot can run here, else why not (the tests skip with that reason)."""
    if not os.path.exists(DOVECOT):
        return "Dovecot is not installed (Debian: apt-get install dovecot-imapd)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _owner() -> tuple[str, int, int]:
    """Dovecot runs its mail processes as an unprivileged user: the current one, or the
    package's ``dovecot`` user when the tests run as root."""
    entry = pwd.getpwuid(os.geteuid()) if os.geteuid() != 0 else pwd.getpwnam("dovecot")
    return entry.pw_name, entry.pw_uid, entry.pw_gid


@contextmanager
def dovecot_server() -> Iterator[Dovecot]:
    owner, uid, gid = _owner()
    root = Path(tempfile.mkdtemp(prefix="flowdesk-dovecot-"))
    port = _free_port()
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir()
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    (root / "dovecot.conf").write_text(
        _CONF.format(root=root, port=port, owner=owner, uid=uid, gid=gid)
    )
    if os.geteuid() == 0:
        for path in [root, *root.rglob("*")]:
            os.chown(path, uid, gid)
        os.chmod(root, 0o755)
    proc = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    server = Dovecot("127.0.0.1", port, USER, PASSWORD, root)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                raise RuntimeError(f"dovecot did not start: {out}\n{server.log()}")
            time.sleep(0.05)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)
