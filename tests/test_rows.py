"""The prepared hot-path statements (core.rows, accounts.lookups) agree with the ORM they replace,
on every database the suite runs on: same rows, same Python values (datetimes, JSON, booleans,
foreign keys, NULLs)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext

from api_helpers import Desk
from flowdesk.accounts.lookups import team_by_name, token_by_hash, user_by_email
from flowdesk.accounts.models import ApiToken, Team, User, hash_token
from flowdesk.accounts.services import do_revoke_token
from flowdesk.core import rows
from flowdesk.core.clock import utcnow
from flowdesk.tickets.fields import custom_field_defs
from flowdesk.tickets.models import CustomFieldDef, Message, Ticket, TicketUpdate


def _values(obj: Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _token(desk: Desk) -> str:
    return str(desk.agent.client.defaults["HTTP_AUTHORIZATION"]).split()[1]


def test_token_lookup_matches_the_orm_with_user_and_organization(desk: Desk) -> None:
    raw = str(desk.customer.client.defaults["HTTP_AUTHORIZATION"]).split()[1]
    orm = ApiToken.objects.select_related("user", "user__organization").get(
        key_hash=hash_token(raw)
    )
    with CaptureQueriesContext(connection) as q:
        token = token_by_hash(hash_token(raw))
        assert token is not None
        org = token.user.organization
    assert len(q.captured_queries) == 1  # the user and organization came with it
    assert _values(token) == _values(orm)
    assert _values(token.user) == _values(orm.user)
    assert org is not None
    assert orm.user.organization is not None
    assert _values(org) == _values(orm.user.organization)
    assert org.attributes == {"tier": "enterprise"}  # JSON decoded
    assert token.created_at.tzinfo is not None  # aware datetimes on every database
    assert not token._state.adding


def test_token_lookup_refuses_revoked_tokens_and_inactive_users(desk: Desk) -> None:
    raw = _token(desk)
    token = token_by_hash(hash_token(raw))
    assert token is not None
    assert token.user.organization is None  # an agent without organization: LEFT JOIN
    assert token_by_hash(hash_token(raw + "x")) is None
    User.objects.filter(pk=token.user.pk).update(is_active=False)
    assert token_by_hash(hash_token(raw)) is None
    User.objects.filter(pk=token.user.pk).update(is_active=True)
    do_revoke_token(token, utcnow())
    assert token_by_hash(hash_token(raw)) is None


def test_user_team_and_custom_field_lookups_match_the_orm(desk: Desk) -> None:
    user = user_by_email(desk.customer_email)
    orm = User.objects.select_related("organization").get(email=desk.customer_email)
    assert user is not None
    assert _values(user) == _values(orm)
    assert user_by_email("nobody@example.org") is None
    team = team_by_name("Tier 2")
    assert team is not None
    assert _values(team) == _values(Team.objects.get(name="Tier 2"))
    assert team_by_name("tier 2") is None  # names are exact, as in the ORM query
    defs = custom_field_defs()
    assert [_values(d) for d in defs] == [
        _values(d) for d in CustomFieldDef.objects.order_by("key")
    ]
    assert next(d for d in defs if d.key == "plan").choices == ["starter", "pro"]


def test_insert_update_and_insert_many_store_what_the_orm_reads_back(desk: Desk) -> None:
    requester = User.objects.get(email=desk.customer_email)
    now = utcnow()
    ticket = Ticket(
        subject="Prepared",
        requester=requester,
        organization=requester.organization,
        tags=["a", "b"],
        custom_fields={"plan": "pro", "nested": {"x": [1, None]}},
        created_at=now,
        updated_at=now,
    )
    rows.insert(ticket)
    assert ticket.pk is not None
    assert not ticket._state.adding
    stored = Ticket.objects.get(pk=ticket.pk)
    assert _values(stored) == _values(ticket)

    team = Team.objects.get(name="Tier 1")
    ticket.team = team
    ticket.type = None
    ticket.solved_at = now + timedelta(hours=1)
    ticket.tags = []
    ticket.version = 2
    rows.update_fields(ticket, ["team", "type", "solved_at", "tags", "version"])
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.team_id == team.pk
    assert stored.solved_at == now + timedelta(hours=1)
    assert (stored.tags, stored.version, stored.type) == ([], 2, None)
    assert stored.subject == "Prepared"  # untouched columns stay

    update = TicketUpdate(ticket_id=ticket.pk, created_at=now, cause_kind="system")
    rows.insert(update)
    messages = [
        Message(
            ticket=ticket,
            update=update,
            author=requester,
            author_kind="customer",
            body_text=f"body {i}",
            created_at=now,
        )
        for i in range(rows.CHUNK + 5)  # more than one statement
    ]
    rows.insert_many(messages)
    assert len({m.pk for m in messages}) == len(messages)
    stored_bodies = dict(Message.objects.filter(ticket=ticket).values_list("pk", "body_text"))
    assert stored_bodies == {m.pk: m.body_text for m in messages}


def test_the_rule_set_head_carries_the_custom_field_layout_the_cache_is_keyed_by(
    demo_rules: Desk,
) -> None:
    """One statement gives the newest version and the custom fields; its fingerprint must be
    the one the compile cache is filled with, or every update would compile the set again."""
    import json

    from flowdesk.automation.services import (
        _fingerprint,
        _fingerprint_of,
        _head_sql,
        active_ruleset,
    )

    def head_fingerprint() -> str:
        row = rows.first(_head_sql(), [])
        assert row is not None
        return _fingerprint_of(json.loads(row[2]) if row[2] else None)

    assert head_fingerprint() == _fingerprint()
    CustomFieldDef.objects.create(key="zone", label="Zone", kind="enum", choices=["eu", "us"])
    assert head_fingerprint() == _fingerprint()
    CustomFieldDef.objects.all().delete()
    assert head_fingerprint() == _fingerprint() == "[]"
    first = active_ruleset()
    with CaptureQueriesContext(connection) as q:
        again = active_ruleset()
    assert first is not None
    assert again is not None
    assert again.ruleset is first.ruleset  # cached: no compile, one statement
    assert len(q.captured_queries) == 1


def test_write_answers_built_from_the_rows_written_equal_a_fresh_read(demo_rules: Desk) -> None:
    """Creates and updates answer from the in-memory rows (no reload): they must say what a
    later GET reads, rule changes (team, tags, priority) and followers included."""
    created = demo_rules.agent.post(
        "/tickets",
        {
            "subject": "Refund for a double charge",
            "body": "I was charged twice, please refund",
            "channel": "email",
            "requester_email": demo_rules.customer_email,
            "tags": ["vip"],
        },
    )
    assert created.status == 201, created
    ticket = created.data["id"]
    assert created.data == demo_rules.admin.get(f"/tickets/{ticket}").data
    patched = demo_rules.admin.patch(
        f"/tickets/{ticket}",
        {
            "version": created.data["version"],
            "priority": "high",
            "add_followers": ["alice@desk.test"],
        },
    )
    assert patched.status == 200, patched
    assert patched.data["followers"] == ["alice@desk.test"]
    assert patched.data == demo_rules.admin.get(f"/tickets/{ticket}").data
    replied = demo_rules.admin.post(
        f"/tickets/{ticket}/messages", {"body": "Refunded", "version": patched.data["version"]}
    )
    assert replied.status == 201, replied
    assert replied.data == demo_rules.admin.get(f"/tickets/{ticket}").data


def test_locking_tickets_matches_the_orm_with_their_related_rows(desk: Desk) -> None:
    """``tickets.batch.lock_many`` (every update's lock, and a timer round's) returns what
    ``select_for_update().select_related(...)`` did, with no lazy query after it."""
    from django.db import transaction

    from flowdesk.tickets.batch import lock_many, preload

    first = desk.customer.post("/tickets", {"subject": "One", "body": "First."}).data["id"]
    second = desk.agent.post(
        "/tickets",
        {
            "subject": "Two",
            "body": "Second.",
            "requester_email": desk.customer_email,
            "assignee": "alice@desk.test",
            "team": "Tier 1",
            "tags": ["b", "a"],
        },
    )
    assert second.status == 201, second
    ids = [first, second.data["id"], 999_999]
    related = ("requester", "organization", "assignee", "team")
    with transaction.atomic():
        with CaptureQueriesContext(connection) as q:
            locked = lock_many(ids, skip_locked=False)
            values = {pk: {name: getattr(t, name) for name in related} for pk, t in locked.items()}
        assert len(q.captured_queries) == 1
        assert sorted(locked) == sorted(ids[:2])  # a missing ticket is left out
        for pk, ticket in locked.items():
            orm = Ticket.objects.select_related(*related).get(pk=pk)
            assert _values(ticket) == _values(orm)
            for name in related:
                got, want = values[pk][name], getattr(orm, name)
                assert (_values(got) if got else None) == (_values(want) if want else None)
        assert values[second.data["id"]]["team"].name == "Tier 1"
        rows_of = preload(ids, skip_locked=False)
        assert rows_of[second.data["id"]].followers == frozenset()
        latest = rows_of[first].latest
        assert latest is not None
        assert latest.body_text == "First."


def test_deferred_writes_are_sent_at_the_end_inserts_first_and_not_at_all_on_error(
    desk: Desk,
) -> None:
    """``rows.deferred_writes`` (a timer round): writes that read nothing back wait for the end
    of the block; an insert goes before the updates; updates of one row keep their order;
    ``flush_deferred`` sends them early, and so does a read of a table with a write waiting; an
    error sends nothing."""
    import pytest
    from django.db import transaction

    from flowdesk.tickets.models import TicketTag

    tid = desk.customer.post("/tickets", {"subject": "Deferred", "body": "Later."}).data["id"]
    ticket = Ticket.objects.get(pk=tid)
    with transaction.atomic():
        with rows.deferred_writes():
            ticket.subject = "First"
            rows.update_fields(ticket, ["subject"])
            ticket.subject = "Second"
            rows.update_fields(ticket, ["subject"])
            rows.insert_ignore([TicketTag(ticket=ticket, name="later")])
            with CaptureQueriesContext(connection) as q:
                assert Team.objects.count() >= 0  # reads no table with writes waiting
            assert len(q.captured_queries) == 1  # nothing sent early
            with CaptureQueriesContext(connection) as q:
                rows.flush_deferred()
            assert len(q.captured_queries) == 2  # one INSERT, one UPDATE statement
            assert Ticket.objects.get(pk=tid).subject == "Second"
            ticket.subject = "Read back"
            rows.update_fields(ticket, ["subject"])
            with CaptureQueriesContext(connection) as q:
                # a read of a table with a write waiting sends the waiting writes first
                assert Ticket.objects.get(pk=tid).subject == "Read back"
            assert len(q.captured_queries) == 2
            assert rows.deferred_flushes() == 1
            ticket.subject = "Through a CTE"
            rows.update_fields(ticket, ["subject"])
            with connection.cursor() as cursor:  # a WITH ... SELECT reads too
                cursor.execute(
                    f"WITH t AS (SELECT subject FROM {Ticket._meta.db_table} WHERE id = %s) "
                    "SELECT subject FROM t",
                    [tid],
                )
                assert cursor.fetchone() == ("Through a CTE",)
            assert rows.deferred_flushes() == 2
            ticket.subject = "Third"
            rows.update_fields(ticket, ["subject"])
        assert Ticket.objects.get(pk=tid).subject == "Third"
        assert list(TicketTag.objects.filter(ticket_id=tid).values_list("name", flat=True)) == [
            "later"
        ]

    def failing_round() -> None:
        with transaction.atomic(), rows.deferred_writes():
            ticket.subject = "Never"
            rows.update_fields(ticket, ["subject"])
            raise RuntimeError("the round failed")

    with pytest.raises(RuntimeError):
        failing_round()
    assert Ticket.objects.get(pk=tid).subject == "Third"
