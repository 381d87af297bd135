"""The mail tests' fixtures (defined with their helpers in mail_helpers, which the tests import:
a name of its own, since every test folder's conftest is importable as ``conftest``)."""

from mail_helpers import dovecot, imap, mailbox

__all__ = ["dovecot", "imap", "mailbox"]
