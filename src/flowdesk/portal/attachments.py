"""Files attached on the portal: checked against the limits, stored through Django's storage
API, described in the message's ``attachments`` list, served only to those who can read the
ticket.

Each file is stored under a random id, in a folder of the user who uploaded it
(``portal/<author id>/<id>``): the name on disk never comes from the upload, and a message can
only point at files its own author uploaded (an id copied into another message by the API
resolves to nothing). The metadata is what the API's attachments carry (``filename``,
``content_type``, ``size``) plus the ``id``. The content type is guessed from the extension,
never taken from the browser, and every download is sent as an attachment with ``nosniff``.
"""

from __future__ import annotations

import mimetypes
import re
import uuid
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from flowdesk.tickets.models import Message

ID = re.compile(r"^[0-9a-f]{32}$")


class Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def limits() -> dict[str, int]:
    """What the file field tells the customer."""
    return {
        "count": int(settings.FLOWDESK["PORTAL_ATTACHMENT_MAX_COUNT"]),
        "size": int(settings.FLOWDESK["PORTAL_ATTACHMENT_MAX_BYTES"]),
    }


def _extension(name: str) -> str:
    return PurePath(name).suffix.lower().lstrip(".")


def check_files(files: Sequence[UploadedFile]) -> None:
    limits = settings.FLOWDESK
    allowed = settings.FLOWDESK_PORTAL_ATTACHMENT_TYPES
    if len(files) > limits["PORTAL_ATTACHMENT_MAX_COUNT"]:
        raise Refused(
            _("At most %(n)d files per message.") % {"n": limits["PORTAL_ATTACHMENT_MAX_COUNT"]}
        )
    for f in files:
        name = f.name or ""
        if _extension(name) not in allowed:
            raise Refused(
                _("%(name)s: this type of file is not accepted (allowed: %(types)s).")
                % {"name": name, "types": ", ".join(allowed)}
            )
        if (f.size or 0) > limits["PORTAL_ATTACHMENT_MAX_BYTES"]:
            raise Refused(
                _("%(name)s is larger than %(max)s.")
                % {"name": name, "max": filesizeformat(limits["PORTAL_ATTACHMENT_MAX_BYTES"])}
            )


def _path(author_id: int, file_id: str) -> str:
    return f"portal/{author_id}/{file_id}"


def store_files(author_id: int, files: Sequence[UploadedFile]) -> list[dict[str, Any]]:
    """Stores checked files; returns their metadata for ``NewMessage.attachments``."""
    stored: list[dict[str, Any]] = []
    for f in files:
        file_id = uuid.uuid4().hex
        default_storage.save(_path(author_id, file_id), f)
        filename = PurePath(f.name or "file").name[:300]
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        stored.append(
            {"id": file_id, "filename": filename, "content_type": content_type, "size": f.size}
        )
    return stored


def discard(author_id: int, stored: list[dict[str, Any]]) -> None:
    """The message was refused: its files go too."""
    for a in stored:
        default_storage.delete(_path(author_id, a["id"]))


def find(message: Message, file_id: str) -> tuple[dict[str, Any], str] | None:
    """(metadata, storage path) of one of the message's stored files, or None."""
    if message.author_id is None or not ID.match(file_id):
        return None
    for a in message.attachments:
        if isinstance(a, dict) and a.get("id") == file_id:
            path = _path(message.author_id, file_id)
            return (a, path) if default_storage.exists(path) else None
    return None
