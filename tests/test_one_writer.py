"""One change set, one writer: every author writes tickets through the same two services, with
the same validation, events and delivery decision."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction

from api_helpers import ADMIN, Desk

SRC = Path(__file__).resolve().parent.parent / "src" / "flowdesk"


def _work() -> None:
    call_command("worker", batch=True, verbosity=0)


def _ticket(api: Any, **fields: Any) -> dict[str, Any]:
    body = {"subject": "Printer on fire", "body": "It smokes.", **fields}
    r = api.post("/tickets", body)
    assert r.status == 201, r
    data: dict[str, Any] = r.data
    return data


def _import(desk: Desk, yaml: str) -> None:
    r = desk.admin.post("/rules", {"yaml": yaml})
    assert r.status == 201, r


# --- one writer -------------------------------------------------------------------------------

_WRITES = {"save", "delete", "create", "bulk_create", "update", "get_or_create", "add", "remove"}
_WRITTEN_MODELS = ("Ticket", "Message", "TicketTag")


def _writes_outside_services(path: Path) -> list[str]:
    """Calls that write tickets, messages, tags or followers: `Ticket.objects.create`,
    `ticket.save()`, `.followers.add()`, `TicketTag.objects...delete()` ..."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in _WRITES:
            continue
        text = ast.unparse(node.func.value)
        if (
            any(text.startswith(f"{m}.objects") for m in _WRITTEN_MODELS)
            or text.endswith(".followers")
            or text in ("ticket", "w.ticket", "message")
            or text.startswith("TicketTag.objects")
        ):
            found.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_only_the_ticket_services_write_tickets_messages_tags_and_followers() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if "/migrations/" in rel or rel == "tickets/services.py":
            continue
        offenders += _writes_outside_services(path)
    assert offenders == []
    # The check itself finds the writes where they are.
    assert _writes_outside_services(SRC / "tickets" / "services.py")


def test_dependencies_point_one_way() -> None:
    """The rules runner depends on the ticket services, never the other way (no import loop);
    the engine imports nothing of the Django side."""
    for package, forbidden in (
        ("tickets", "flowdesk.automation"),
        ("engine", "flowdesk.tickets"),
        ("engine", "flowdesk.automation"),
        ("engine", "django"),
    ):
        for path in sorted((SRC / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                bad = [n for n in names if n == forbidden or n.startswith(forbidden + ".")]
                assert not bad, f"{path.relative_to(SRC)}:{node.lineno} imports {bad}"


# --- delivery, decided in one place -------------------------------------------------------------

pytestmark = pytest.mark.django_db(transaction=True)


def test_agent_public_reply_is_emailed_to_the_requester_once(desk: Desk, smtp: Any) -> None:
    t = _ticket(desk.customer)
    r = desk.agent.post(f"/tickets/{t['id']}/messages", {"body": "Unplug it, please."})
    assert r.status == 201, r
    desk.agent.post(f"/tickets/{t['id']}/messages", {"body": "internal only", "public": False})
    desk.customer.post(f"/tickets/{t['id']}/messages", {"body": "Done, thanks."})
    outbox = desk.agent.get("/outbox", ticket=t["id"]).data["items"]
    assert [i["kind"] for i in outbox] == ["reply"]  # not the note, not the customer's reply
    messages = desk.agent.get(f"/tickets/{t['id']}/messages").data
    reply = next(m for m in messages if m["body"] == "Unplug it, please.")
    assert outbox[0]["payload"]["message_id"] == reply["id"]

    _work()
    _work()  # a second run delivers nothing twice
    assert len(smtp.received) == 1
    mail = smtp.received[0]
    assert smtp.envelopes[0][1] == [desk.customer_email]
    assert mail["Subject"] == f"Re: Printer on fire [#{t['id']}]"
    # the message as written, then the fixed footer in the requester's language
    text, _, footer = (
        mail.get_body(("plain",)).get_content().replace("\r\n", "\n").partition("\n-- \n")
    )
    assert (text.strip(), footer.strip()) == (
        "Unplug it, please.",
        f"Reply to this e-mail to answer. Your reply is added to request #{t['id']}.",
    )
    kinds = [e["kind"] for e in desk.agent.get(f"/tickets/{t['id']}/events").data]
    assert kinds.count("outbox_queued") == 1
    assert kinds.count("delivered") == 1


@pytest.mark.parametrize(
    "backend",
    ["django_tasks_db.DatabaseBackend", "django_tasks.backends.immediate.ImmediateBackend"],
)
def test_a_rolled_back_update_sends_nothing(
    desk: Desk, smtp: Any, settings: Any, backend: str
) -> None:
    from django_tasks_db.models import DBTaskResult

    from flowdesk.accounts.models import User
    from flowdesk.core.clock import utcnow
    from flowdesk.outbox.models import OutboxItem
    from flowdesk.tickets.services import Cause, ChangeSet, NewMessage, do_update_ticket

    settings.TASKS = {"default": {"BACKEND": backend}}
    t = _ticket(desk.customer)
    agent = User.objects.get(email="alice@desk.test")

    def reply(text: str) -> None:
        do_update_ticket(
            t["id"],
            changes=ChangeSet(),
            message=NewMessage(body_text=text),
            expected_version=None,
            cause=Cause.for_user(agent),
            now=utcnow(),
        )

    class Abort(Exception):
        pass

    def work() -> None:  # the immediate backend ran the task already; nothing to work off
        if backend.startswith("django_tasks_db"):
            _work()

    def rolled_back() -> None:
        with transaction.atomic():
            reply("this reply is rolled back")
            raise Abort

    with pytest.raises(Abort):
        rolled_back()
    work()
    assert OutboxItem.objects.count() == 0
    assert DBTaskResult.objects.count() == 0
    assert smtp.received == []
    # The same reply, committed, is delivered (by the immediate backend at once).
    reply("this one is sent")
    work()
    sent = [
        m.get_body(("plain",)).get_content().replace("\r\n", "\n").partition("\n-- \n")[0]
        for m in smtp.received
    ]
    sent = [text.strip() for text in sent]
    assert sent == ["this one is sent"]


# --- a refused rule change leaves no trace -------------------------------------------------

_NIGHT_RULES = """
version: 1
rules:
  - name: night-queue
    triggers: [created]
    actions:
      - {type: assign_team, team: Night shift}
      - {type: add_tags, tags: [queued]}
  - name: tag-night
    triggers: [created]
    conditions: {all: [{field: team, op: is, value: Night shift}]}
    actions: [{type: add_tags, tags: [night]}]
"""


def test_a_rule_assigning_a_missing_team_leaves_no_trace(desk: Desk) -> None:
    from flowdesk.accounts.models import Team

    team = Team.objects.create(name="Night shift")
    _import(desk, _NIGHT_RULES)
    Team.objects.filter(pk=team.pk).update(name="Late shift")  # renamed after the import

    t = _ticket(desk.customer)
    assert t["team"] is None
    assert t["tags"] == ["queued"]
    events = desk.admin.get(f"/tickets/{t['id']}/events").data
    assert not [e for e in events if e["field"] == "team" and e["kind"] != "automation_error"]
    fired = [e for e in events if e["kind"] == "rule_fired"]
    assert [e["rule"] for e in fired] == ["night-queue"]  # tag-night never saw the team
    assert "team" not in fired[0]["data"]["changes"]
    assert fired[0]["data"]["rejected"][0]["field"] == "team"
    errors = [e for e in events if e["kind"] == "automation_error"]
    assert len(errors) == 1
    assert errors[0]["rule"] == "night-queue"
    assert errors[0]["field"] == "team"
    assert "no team named 'Night shift'" in errors[0]["data"]["message"]

    ex = desk.admin.get(f"/tickets/{t['id']}/explanation").data
    rules = {r["name"]: r for r in ex["rules"]}
    assert "refused changes" in rules["night-queue"]["reason"]
    assert rules["tag-night"]["fired"] is False
    assert ex["changes"] == {"tags": [[], ["queued"]]}


# --- the same change by the API and by a rule records the same events ---------------------------

# (PATCH body, the equivalent rule action): one case per field kind a writer can set.
CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "enum status": ({"status": "pending"}, {"type": "set_status", "value": "pending"}),
    "enum priority": ({"priority": "high"}, {"type": "set_priority", "value": "high"}),
    "enum type": ({"type": "incident"}, {"type": "set_type", "value": "incident"}),
    "tags add": ({"add_tags": ["VIP"]}, {"type": "add_tags", "tags": ["vip"]}),
    "tags remove": ({"remove_tags": ["old"]}, {"type": "remove_tags", "tags": ["old"]}),
    "tags replace": ({"tags": ["a", "b"]}, {"type": "set_tags", "tags": ["a", "b"]}),
    "ref agent": (
        {"assignee": "Carol@Desk.test"},
        {"type": "assign_agent", "agent": "carol@desk.test"},
    ),
    "ref unassign": ({"assignee": None}, {"type": "unassign"}),
    "ref team": ({"team": "Billing"}, {"type": "assign_team", "team": "Billing"}),
    "set follower": (
        {"add_followers": ["erin@desk.test"]},
        {"type": "add_follower", "agent": "erin@desk.test"},
    ),
    "custom enum": (
        {"custom_fields": {"plan": "pro"}},
        {"type": "set_field", "field": "custom.plan", "value": "pro"},
    ),
    "custom cleared": (
        {"custom_fields": {"plan": None}},
        {"type": "set_field", "field": "custom.plan", "value": None},
    ),
    "custom int": (
        {"custom_fields": {"seats": 12}},
        {"type": "set_field", "field": "custom.seats", "value": 12},
    ),
    "custom text": (
        {"custom_fields": {"note": "call back"}},
        {"type": "set_field", "field": "custom.note", "value": "call back"},
    ),
    "custom bool": (
        {"custom_fields": {"vip": True}},
        {"type": "set_field", "field": "custom.vip", "value": True},
    ),
    "custom number": (
        {"custom_fields": {"score": 4.5}},
        {"type": "set_field", "field": "custom.score", "value": 4.5},
    ),
    "custom date": (
        {"custom_fields": {"due": "2026-12-24"}},
        {"type": "set_field", "field": "custom.due", "value": "2026-12-24"},
    ),
}
_FIELD_EVENTS = {
    "field_changed",
    "assigned",
    "tag_added",
    "tag_removed",
    "follower_added",
    "follower_removed",
}


def _field_events(desk: Desk, ticket_id: int) -> list[tuple[Any, ...]]:
    events = desk.admin.get(f"/tickets/{ticket_id}/events").data
    return [
        (e["kind"], e["field"], e["old"], e["new"], e["data"])
        for e in events
        if e["kind"] in _FIELD_EVENTS
    ]


@pytest.mark.parametrize("case", sorted(CASES))
def test_api_and_rule_record_identical_events(desk: Desk, case: str) -> None:
    import yaml

    from flowdesk.tickets.models import CustomFieldDef

    for key, kind in (("note", "text"), ("vip", "bool"), ("score", "number"), ("due", "date")):
        CustomFieldDef.objects.create(key=key, label=key, kind=kind)
    patch, action = CASES[case]
    rule = {
        "name": "apply",
        "triggers": ["note_added"],
        "conditions": {"all": [{"field": "latest_message.body", "op": "is", "value": "go"}]},
        "actions": [action],
    }
    _import(desk, yaml.safe_dump({"version": 1, "rules": [rule]}))
    start = {
        "requester_email": desk.customer_email,
        "assignee": "alice@desk.test",
        "tags": ["old"],
        "custom_fields": {"plan": "starter"},
    }
    by_api, by_rule = _ticket(desk.admin, **start), _ticket(desk.admin, **start)
    r = desk.admin.patch(f"/tickets/{by_api['id']}", patch)
    assert r.status == 200, r
    r = desk.admin.post(f"/tickets/{by_rule['id']}/messages", {"body": "go", "public": False})
    assert r.status == 201, r
    api_events, rule_events = _field_events(desk, by_api["id"]), _field_events(desk, by_rule["id"])
    assert api_events
    assert api_events == rule_events
    assert desk.admin.get(f"/tickets/{by_api['id']}").data == {
        **desk.admin.get(f"/tickets/{by_rule['id']}").data,
        "id": by_api["id"],
        "message_count": 1,
        "version": 2,
        "updated_at": desk.admin.get(f"/tickets/{by_api['id']}").data["updated_at"],
        "created_at": by_api["created_at"],
    }


# --- the vocabulary is defined once ------------------------------------------------------------


def _openapi_enum(spec: dict[str, Any], schema: str, prop: str) -> list[str]:
    node = spec["components"]["schemas"][schema]["properties"][prop]
    for option in node.get("anyOf", [node]):
        ref = option.get("$ref") or (option.get("allOf") or [{}])[0].get("$ref")
        if ref:
            enum: list[str] = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["enum"]
            return enum
        if "enum" in option:
            return list(option["enum"])
    raise AssertionError(f"{schema}.{prop} has no enum")


def test_the_vocabulary_is_defined_once_and_every_copy_agrees(desk: Desk) -> None:
    from django.test import Client

    from flowdesk.automation.catalog import build_catalog
    from flowdesk.engine import default_catalog
    from flowdesk.engine.fieldspec import KINDS
    from flowdesk.engine.vocabulary import (
        AUTHOR_KINDS,
        BASE_FIELDS,
        CHANNELS,
        PRIORITIES,
        STATUSES,
        TYPES,
        CustomFieldKind,
    )
    from flowdesk.tickets import fields
    from flowdesk.tickets.models import CustomFieldDef, Message, Ticket

    spec = Client().get("/api/openapi.json").json()
    catalog = build_catalog(check_names=False)
    engine = default_catalog()
    for name, values in (
        ("status", STATUSES),
        ("priority", PRIORITIES),
        ("type", TYPES),
        ("channel", CHANNELS),
    ):
        model = [c[0] for c in Ticket._meta.get_field(name).choices or []]
        assert model == list(values), name
        assert catalog.fields[name].choices == engine.fields[name].choices == values, name
        schema = "TicketCreate" if name == "channel" else "TicketPatch"
        assert _openapi_enum(spec, schema, name) == list(values), name
    author_kinds = [c[0] for c in Message._meta.get_field("author_kind").choices or []]
    assert author_kinds == list(AUTHOR_KINDS)
    assert catalog.fields["latest_message.author_kind"].choices == AUTHOR_KINDS
    kinds = [c[0] for c in CustomFieldDef._meta.get_field("kind").choices or []]
    assert kinds == [k.value for k in CustomFieldKind]
    assert set(kinds) <= set(KINDS)
    # The registry binds exactly the vocabulary's fields, and the catalog's base is the registry.
    assert list(fields.BASE) == [f.name for f in BASE_FIELDS]
    assert [catalog.fields[k] for k in fields.BASE] == fields.base_specs()
    # A real ticket's snapshot has exactly those keys (plus its attribute families).
    t = _ticket(desk.customer)
    snapshot = desk.agent.post("/rules/dry-run", {"ticket_id": t["id"], "yaml": "rules: []"})
    keys = set(snapshot.data["snapshot"])
    assert set(fields.BASE) <= keys
    assert all(
        k.split(".")[0] in ("requester", "organization", "custom") or k.startswith("source.header.")
        for k in keys - set(fields.BASE)
    )
    # The engine contract documents every base field.
    contract = (SRC.parent.parent / "docs" / "engine-contract.md").read_text(encoding="utf-8")
    assert all(f"`{f.name}`" in contract for f in BASE_FIELDS)


# --- cost ----------------------------------------------------------------------------------


def test_creating_a_ticket_costs_fewer_statements_and_never_loads_the_rule_set(
    demo_rules: Desk,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from flowdesk.accounts.models import User
    from flowdesk.core.clock import utcnow
    from flowdesk.tickets.services import Cause, ChangeSet, NewMessage, check_create_ticket

    customer = User.objects.get(email="finn@free.test")

    def create() -> None:
        check_create_ticket(
            actor=customer,
            requester=customer,
            subject="Refund for order 1234",
            message=NewMessage(body_text="I was charged twice"),
            channel="email",
            changes=ChangeSet(),
            cause=Cause.for_user(customer),
            now=utcnow(),
        )

    create()  # compiles and caches the active rule set
    with CaptureQueriesContext(connection) as queries:
        create()
    sql = [q["sql"] for q in queries.captured_queries]
    print(f"statements to create a billing ticket: {len(sql)}")
    assert len(sql) < 29, "\n".join(sql)  # 29 before one writer; docs/benchmarks.md has the count
    assert not [s for s in sql if "automation_rulesetversion" in s and '"definition"' in s]


# --- the defects a new user hit ----------------------------------------------------------------


def test_readme_example_stores_the_first_message_as_the_requesters(desk: Desk) -> None:
    t = _ticket(
        desk.admin,
        subject="Refund for order 1234",
        body="I was charged twice",
        requester_email="sam@example.org",
    )
    first = desk.admin.get(f"/tickets/{t['id']}/messages").data[0]
    assert first["author"] == "sam@example.org"
    assert first["author_kind"] == "customer"
    created = desk.admin.get(f"/tickets/{t['id']}/events").data[0]
    assert created["kind"] == "created"
    assert created["actor"] == ADMIN


def test_templates_greet_a_customer_without_a_name(demo_rules: Desk) -> None:
    from flowdesk.accounts.models import Organization
    from flowdesk.accounts.services import do_create_token, do_create_user

    nameless = do_create_user("x@acme.test", organization=Organization.objects.get(name="Acme"))
    from api_helpers import Api

    api = Api(do_create_token(nameless, "t")[1])
    t = _ticket(api)
    reply = desk_reply(demo_rules, t["id"])
    assert reply.startswith("Hello there,"), reply


def desk_reply(desk: Desk, ticket_id: int) -> str:
    items = desk.admin.get("/outbox", ticket=ticket_id, kind="reply").data["items"]
    body: str = items[0]["payload"]["body"]
    return body


def test_demo_seeds_nothing_in_the_future(db: Any) -> None:
    from datetime import UTC, datetime

    from flowdesk.demo.seed import seed_demo
    from flowdesk.tickets.models import Message, Ticket, TicketEvent

    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    seed_demo(tickets=40, now=now)
    for model, column in (
        (Ticket, "created_at"),
        (Ticket, "updated_at"),
        (Message, "created_at"),
        (TicketEvent, "created_at"),
    ):
        latest = model.objects.order_by(f"-{column}").values_list(column, flat=True).first()
        assert latest is not None, (model.__name__, column, latest)
        assert latest <= now, (model.__name__, column, latest)


def test_default_dry_run_is_a_real_creation(desk: Desk) -> None:
    rules = """
rules:
  - {name: on-reply, triggers: [customer_replied], actions: [{type: add_tags, tags: [r]}]}
  - {name: on-create, triggers: [created], actions: [{type: add_tags, tags: [c]}]}
"""
    t = _ticket(desk.customer)
    r = desk.agent.post("/rules/dry-run", {"ticket_id": t["id"], "yaml": rules})
    assert r.status == 200, r
    assert r.data["fired"] == ["on-create"]
    assert r.data["event"] == {"kind": "created"}


def test_events_doc_names_the_fields_the_api_returns(desk: Desk) -> None:
    import re

    doc = (SRC.parent.parent / "docs" / "events.md").read_text(encoding="utf-8")
    section = doc.split("## Fields of an event", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.M))
    t = _ticket(desk.customer)
    event = desk.agent.get(f"/tickets/{t['id']}/events").data[0]
    assert documented == set(event)
    from flowdesk.tickets.models import EventKind

    table = doc.split("## Event kinds", 1)[1].split("\n\n", 1)[0]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    kinds = {k for cell in first_cells for k in re.findall(r"`(\w+)`", cell)}
    assert kinds == {k.value for k in EventKind}


def test_agents_see_their_teams_tickets(desk: Desk, settings: Any) -> None:
    tier2 = _ticket(desk.admin, requester_email=desk.customer_email, team="Tier 2")
    mine = _ticket(
        desk.admin, requester_email=desk.customer_email, team="Tier 2", assignee="alice@desk.test"
    )
    queue = _ticket(desk.admin, requester_email=desk.customer_email)
    tier1 = _ticket(desk.admin, requester_email=desk.customer_email, team="Tier 1")
    visible = {t["id"] for t in desk.agent.get("/tickets").data["items"]}
    assert visible == {mine["id"], queue["id"], tier1["id"]}
    assert desk.agent.get(f"/tickets/{tier2['id']}").status == 404
    assert desk.admin.get(f"/tickets/{tier2['id']}").status == 200
    settings.FLOWDESK = {**settings.FLOWDESK, "AGENT_TEAM_SCOPE": False}
    assert desk.agent.get(f"/tickets/{tier2['id']}").status == 200


def test_history_is_immutable_even_in_bulk(desk: Desk) -> None:
    from django.db.models import ProtectedError

    from flowdesk.tickets.models import ImmutableEventError, Ticket, TicketEvent

    t = _ticket(desk.customer)
    events = TicketEvent.objects.filter(ticket_id=t["id"])
    with pytest.raises(ImmutableEventError):
        events.update(kind="x")
    with pytest.raises(ImmutableEventError):
        events.delete()
    with pytest.raises(ProtectedError):
        Ticket.objects.get(pk=t["id"]).delete()
    assert events.count() == 2


def test_a_replayed_delivery_key_is_queued_and_recorded_once(desk: Desk) -> None:
    from flowdesk.core.clock import utcnow
    from flowdesk.outbox.models import OutboxItem
    from flowdesk.tickets.cause import Cause
    from flowdesk.tickets.delivery import queue_outbox
    from flowdesk.tickets.models import Ticket
    from flowdesk.tickets.services import TicketWrite

    t = Ticket.objects.get(pk=_ticket(desk.customer)["id"])
    with transaction.atomic():
        w = TicketWrite(t, Cause.system(), utcnow(), new=False)
        for _ in range(2):
            queue_outbox(w, "notify", {"to": ["a@x"]}, key="replay-1", cause=Cause.system())
        w.log.flush()
    assert OutboxItem.objects.filter(idempotency_key="replay-1").count() == 1
    kinds = [e["kind"] for e in desk.agent.get(f"/tickets/{t.pk}/events").data]
    assert kinds.count("outbox_queued") == 1


def test_loading_a_token_does_not_write(desk: Desk) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from flowdesk.accounts.models import User
    from flowdesk.accounts.services import access_token, do_create_token

    _, raw = do_create_token(User.objects.get(email=ADMIN), "probe")
    with CaptureQueriesContext(connection) as queries:
        assert access_token(raw) is not None
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in queries.captured_queries)
