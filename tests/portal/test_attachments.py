"""Attachments on the portal: the limits (size, type, count), storage through Django's storage
API, and downloads only for those who can read the ticket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from flowdesk.accounts.services import do_create_user
from flowdesk.core.clock import utcnow
from flowdesk.tickets.models import Message, Ticket
from flowdesk.tickets.services import Cause, ChangeSet, NewMessage, check_update_ticket
from portal_helpers import signed_in
from web_helpers import PASSWORD, WebDesk, ticket


def _file(
    name: str = "screenshot.png", data: bytes = b"\x89PNG fake", ct: str = "image/png"
) -> Any:
    return SimpleUploadedFile(name, data, content_type=ct)


def _reply(client: Client, t: Ticket, *files: Any, body: str = "See attached.") -> Any:
    return client.post(f"/portal/tickets/{t.pk}/reply", {"body": body, "upload": list(files)})


def _stored(settings: Any) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_a_reply_with_files_stores_them_and_lists_them(web: WebDesk, settings: Any) -> None:
    t = ticket(web, "Broken chart")
    client = signed_in("cora@acme.test")
    r = _reply(client, t, _file(), _file("log.txt", b"line 1\n", "text/plain"))
    assert r.status_code == 302
    m = Message.objects.filter(ticket=t).last()
    assert m is not None
    names = [(a["filename"], a["content_type"], a["size"]) for a in m.attachments]
    assert names == [("screenshot.png", "image/png", 9), ("log.txt", "text/plain", 7)]
    assert all(len(a["id"]) == 32 for a in m.attachments)
    stored = _stored(settings)
    assert len(stored) == 2
    assert all(p.name in {a["id"] for a in m.attachments} for p in stored)  # not the upload's name
    page = client.get(f"/portal/tickets/{t.pk}").content.decode()
    url = f"/portal/tickets/{t.pk}/files/{m.pk}/{m.attachments[1]['id']}"
    assert f'href="{url}"' in page
    download = client.get(url)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"line 1\n"
    assert download["Content-Disposition"].startswith('attachment; filename="log.txt"')
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in download["Cache-Control"]


def test_a_signed_in_new_request_may_carry_files(web: WebDesk) -> None:
    client = signed_in("cora@acme.test")
    r = client.post("/portal/new", {"subject": "Chart", "body": "See it.", "upload": [_file()]})
    assert r.status_code == 302
    m = Message.objects.get(ticket__subject="Chart")
    assert [a["filename"] for a in m.attachments] == ["screenshot.png"]


def test_limits_refuse_the_whole_message_and_store_nothing(web: WebDesk, settings: Any) -> None:
    settings.FLOWDESK = {
        **settings.FLOWDESK,
        "PORTAL_ATTACHMENT_MAX_BYTES": 100,
        "PORTAL_ATTACHMENT_MAX_COUNT": 2,
    }
    t = ticket(web, "Broken chart")
    client = signed_in("cora@acme.test")
    for files, says in (
        ([_file(data=b"x" * 101)], "larger than 100"),
        ([_file("run.exe", b"MZ", "image/png")], "not accepted"),
        ([_file("noext", b"x")], "not accepted"),
        ([_file(), _file(), _file()], "At most 2 files"),
    ):
        r = _reply(client, t, *files, body="kept text")
        assert r.status_code == 422, says
        body = r.content.decode()
        assert says in body
        assert "kept text" in body
    assert Ticket.objects.get(pk=t.pk).message_count == 1
    assert _stored(settings) == []
    r = client.post("/portal/new", {"subject": "s", "body": "b", "upload": [_file("a.exe")]})
    assert r.status_code == 422
    assert Ticket.objects.count() == 1


def test_a_refused_message_takes_its_files_with_it(web: WebDesk, settings: Any) -> None:
    t = ticket(web, "Broken chart")
    r = _reply(signed_in("cora@acme.test"), t, _file(), body=" ")
    assert r.status_code == 422
    assert _stored(settings) == []


def _attached(web: WebDesk) -> tuple[Ticket, str]:
    t = ticket(web, "Broken chart", team="Tier 1")
    _reply(signed_in("cora@acme.test"), t, _file("secret.txt", b"s3cret", "text/plain"))
    m = Message.objects.filter(ticket=t).last()
    assert m is not None
    return t, f"/portal/tickets/{t.pk}/files/{m.pk}/{m.attachments[0]['id']}"


def test_downloads_only_for_those_who_can_read_the_ticket(web: WebDesk) -> None:
    _t, url = _attached(web)
    do_create_user("finn@free.test", name="Finn", password=PASSWORD)
    assert signed_in("finn@free.test").get(url).status_code == 404
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/portal/login")
    # Agents download with their own permissions: Alice's team has the ticket, Carol's not.
    alice = Client()
    alice.force_login(web.alice)
    assert alice.get(url).status_code == 200
    carol = Client()
    carol.force_login(web.carol)
    assert carol.get(url).status_code == 404
    # A wrong message or id, for the right ticket.
    owner = signed_in("cora@acme.test")
    assert owner.get(url[:-1] + ("0" if url[-1] != "0" else "1")).status_code == 404
    assert owner.get(url.rsplit("/", 1)[0] + "/../../etc").status_code == 404


def test_files_on_internal_notes_are_not_served_to_customers(web: WebDesk) -> None:
    t, _url = _attached(web)
    m = Message.objects.filter(ticket=t).last()
    assert m is not None
    # An agent's note pointing at the same file (through the API's attachments metadata).
    check_update_ticket(
        t,
        changes=ChangeSet(),
        message=NewMessage(body_text="internal", public=False, attachments=m.attachments),
        expected_version=None,
        cause=Cause.for_user(web.alice),
        now=utcnow(),
    )
    note = Message.objects.filter(ticket=t).last()
    assert note is not None
    assert not note.public
    note_url = f"/portal/tickets/{t.pk}/files/{note.pk}/{m.attachments[0]['id']}"
    assert signed_in("cora@acme.test").get(note_url).status_code == 404


def test_an_id_copied_into_another_customers_message_serves_nothing(web: WebDesk) -> None:
    _, url = _attached(web)
    file_id = url.rsplit("/", 1)[1]
    finn = do_create_user("finn@free.test", name="Finn", password=PASSWORD)
    from flowdesk.tickets.services import check_create_ticket

    theirs = check_create_ticket(
        actor=finn,
        requester=finn,
        subject="Mine",
        message=NewMessage(
            body_text="copied",
            attachments=[{"id": file_id, "filename": "x.txt", "size": 1}],
        ),
        channel="api",
        changes=ChangeSet(),
        cause=Cause.for_user(finn),
        now=utcnow(),
    )
    m = Message.objects.get(ticket=theirs)
    r = signed_in("finn@free.test").get(f"/portal/tickets/{theirs.pk}/files/{m.pk}/{file_id}")
    assert r.status_code == 404
