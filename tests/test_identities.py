"""Customer identities and merge suggestions, through the API (docs/customers.md)."""

from __future__ import annotations

from typing import Any

import pytest

from api_helpers import Desk

pytestmark = pytest.mark.django_db


def _customer_id(desk: Desk, email: str) -> int:
    items = desk.agent.get("/customers", q=email).data["items"]
    assert len(items) == 1, items
    pk: int = items[0]["id"]
    return pk


def _add(api: Any, customer: int, kind: str, value: str, **extra: Any) -> Any:
    return api.post(f"/customers/{customer}/identities", {"kind": kind, "value": value, **extra})


def test_a_customer_has_its_login_as_primary_verified_email(desk: Desk) -> None:
    from flowdesk.accounts.identities import customer_for_address

    cora = _customer_id(desk, desk.customer_email)
    r = desk.agent.get(f"/customers/{cora}/identities")
    assert r.status == 200, r
    assert [(i["kind"], i["value"], i["verified"], i["primary"]) for i in r.data] == [
        ("email", "cora@acme.test", True, True)
    ]
    user, verified = customer_for_address("  CORA@Acme.Test ")
    assert (user.pk if user else None, verified) == (cora, True)
    assert customer_for_address("nobody@acme.test") == (None, False)


def test_the_data_migration_gives_existing_customers_their_email_identity(
    transactional_db: Any,
) -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from flowdesk.accounts.models import Identity, User

    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0003_user_language")])
    old = executor.loader.project_state([("accounts", "0003_user_language")]).apps
    old.get_model("accounts", "User").objects.create(email="old@x.test", role="customer")
    old.get_model("accounts", "User").objects.create(email="agent@x.test", role="agent")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    rows = list(Identity.objects.values_list("user__email", "kind", "value", "verified", "primary"))
    assert rows == [("old@x.test", "email", "old@x.test", True, True)]
    assert User.objects.count() == 2


def test_values_are_normalised_per_kind(desk: Desk) -> None:
    cora = _customer_id(desk, desk.customer_email)
    phone = _add(desk.agent, cora, "phone", "+44 20 7946 0958")
    assert phone.status == 201, phone
    assert phone.data["value"] == "+442079460958"
    assert phone.data["verified"] is False
    assert phone.data["primary"] is False
    again = _add(desk.agent, cora, "phone", "0044 (20) 7946-0958")
    assert again.status == 422, again
    assert again.data["errors"][0]["field"] == "value"
    assert "already has phone '+442079460958'" in again.data["errors"][0]["message"]
    email = _add(desk.agent, cora, "email", " Cora.Work@ACME.test ")
    assert email.data["value"] == "cora.work@acme.test"
    chat = _add(desk.agent, cora, "chat", " Visitor-AbC ")
    assert chat.data["value"] == "Visitor-AbC"  # opaque ids keep their case
    for kind, value, message in (
        ("phone", "020 7946 0958", "country code"),
        ("phone", "+1 2345", "not a possible phone number"),
        ("email", "not-an-address", "is not an e-mail address"),
        ("site_user", "   ", "must not be blank"),
    ):
        r = _add(desk.agent, cora, kind, value)
        assert r.status == 422, (value, r)
        assert r.data["errors"][0]["field"] == "value"
        assert message in r.data["errors"][0]["message"], r
    r = _add(desk.agent, cora, "fax", "123")
    assert r.status == 422
    assert r.data["errors"][0]["field"] == "kind"


def test_verify_make_primary_and_remove(desk: Desk) -> None:
    from flowdesk.accounts.identities import customer_for_address
    from flowdesk.accounts.models import User

    cora = _customer_id(desk, desk.customer_email)
    new = _add(desk.agent, cora, "email", "cora@new.test").data
    assert customer_for_address("cora@new.test")[1] is False  # unverified: not an attachment
    r = desk.agent.post(f"/customers/{cora}/identities/{new['id']}/primary")
    assert r.status == 422, r
    assert r.data["errors"][0]["field"] == "primary"
    assert desk.agent.post(f"/customers/{cora}/identities/{new['id']}/verify").data["verified"]
    assert customer_for_address("cora@new.test")[0] == User.objects.get(pk=cora)
    assert customer_for_address("cora@new.test")[1] is True
    r = desk.agent.post(f"/customers/{cora}/identities/{new['id']}/primary")
    assert r.status == 200, r
    assert User.objects.get(pk=cora).email == "cora@new.test"  # the sign-in follows
    listed = desk.agent.get(f"/customers/{cora}/identities").data
    assert [(i["value"], i["primary"]) for i in listed] == [
        ("cora@new.test", True),
        ("cora@acme.test", False),
    ]
    old = next(i for i in listed if i["value"] == "cora@acme.test")
    primary = next(i for i in listed if i["primary"])
    refused = desk.agent.call("DELETE", f"/customers/{cora}/identities/{primary['id']}")
    assert refused.status == 409, refused
    assert "primary e-mail" in refused.data["detail"]
    assert desk.agent.call("DELETE", f"/customers/{cora}/identities/{old['id']}").status == 204
    assert customer_for_address("cora@acme.test") == (None, False)


def test_changing_the_customers_email_keeps_identities_in_step(desk: Desk) -> None:
    cora = _customer_id(desk, desk.customer_email)
    r = desk.agent.patch(f"/customers/{cora}", {"email": "cora@moved.test"})
    assert r.status == 200, r
    listed = desk.agent.get(f"/customers/{cora}/identities").data
    assert [(i["value"], i["verified"], i["primary"]) for i in listed] == [
        ("cora@moved.test", True, True),
        ("cora@acme.test", True, False),
    ]
    finn = _customer_id(desk, desk.other_customer_email)
    taken = desk.agent.patch(f"/customers/{finn}", {"email": "cora@acme.test"})
    assert taken.status == 422, taken
    assert f"customer {cora}" in taken.data["errors"][0]["message"]


def test_a_duplicate_names_the_holder_to_agents_only(desk: Desk) -> None:
    cora = _customer_id(desk, desk.customer_email)
    finn = _customer_id(desk, desk.other_customer_email)
    r = _add(desk.agent, finn, "email", "CORA@acme.test", verified=True)
    assert r.status == 422, r
    assert r.data["errors"] == [
        {
            "field": "value",
            "message": f"email 'cora@acme.test' already belongs to another customer "
            f"(customer {cora}, cora@acme.test)",
        }
    ]
    # The customer adding it for itself is told it is taken, not by whom.
    own = _add(desk.other_customer, finn, "email", "cora@acme.test")
    assert own.status == 422, own
    assert own.data["errors"][0]["field"] == "value"
    assert "cora" not in own.data["errors"][0]["message"].split("'")[-1]
    assert str(cora) not in own.data["errors"][0]["message"]
    # ... may add an unverified one of its own, never a verified one, never another's.
    assert _add(desk.other_customer, finn, "phone", "+14155550100").status == 201
    assert _add(desk.other_customer, finn, "phone", "+14155550101", verified=True).status == 403
    assert desk.other_customer.get(f"/customers/{cora}/identities").status == 403
    assert _add(desk.other_customer, cora, "chat", "v1").status == 403
    assert desk.other_customer.get("/customers/merge-suggestions").status == 403


def test_an_unverified_claim_is_a_suggestion_not_an_attachment(desk: Desk) -> None:
    from flowdesk.accounts.identities import customer_for_address
    from flowdesk.accounts.services import do_create_user

    cora = _customer_id(desk, desk.customer_email)
    assert _add(desk.agent, cora, "email", "shared@home.test").status == 201
    user, verified = customer_for_address("shared@home.test")
    assert (user.pk if user else None, verified) == (cora, False)
    assert desk.agent.get("/customers/merge-suggestions").data == []
    # Mail from that address made a new customer: the claim became a suggestion, once.
    newcomer = do_create_user("shared@home.test", name="Sam")
    do_create_user("x@y.test")
    suggestions = desk.agent.get("/customers/merge-suggestions").data
    assert len(suggestions) == 1, suggestions
    assert {c["id"] for c in suggestions[0]["customers"]} == {cora, newcomer.pk}
    assert "shared@home.test" in suggestions[0]["reason"]
    assert customer_for_address("shared@home.test") == (newcomer, True)
    # An identity added to another customer that matches an unverified one: suggested too.
    finn = _customer_id(desk, desk.other_customer_email)
    assert _add(desk.agent, finn, "phone", "+14155550100").status == 201
    assert _add(desk.agent, cora, "phone", "+1 415 555 0100").status == 201
    assert _add(desk.agent, cora, "phone", "+1 415 555 0100").status == 422
    pairs = [
        sorted(c["id"] for c in s["customers"])
        for s in desk.agent.get("/customers/merge-suggestions").data
    ]
    assert sorted([cora, finn]) in pairs
    assert len(pairs) == 2


def test_same_name_in_one_organization_is_suggested_and_dismissal_sticks(desk: Desk) -> None:
    r = desk.agent.post(
        "/customers", {"email": "cora2@acme.test", "name": "cora", "organization": "Acme"}
    )
    assert r.status == 201, r
    twin = r.data["id"]
    desk.agent.post("/customers", {"email": "cora3@free.test", "name": "Cora"})  # no org: none
    cora = _customer_id(desk, desk.customer_email)
    listed = desk.agent.get("/customers/merge-suggestions", customer=cora).data
    assert len(listed) == 1, listed
    assert "same name" in listed[0]["reason"]
    sid = listed[0]["id"]
    dismissed = desk.agent.post(f"/customers/merge-suggestions/{sid}/dismiss")
    assert dismissed.status == 200, dismissed
    assert dismissed.data["dismissed_at"] is not None
    assert desk.agent.get("/customers/merge-suggestions").data == []
    # Renaming again does not bring a dismissed pair back.
    desk.agent.patch(f"/customers/{twin}", {"name": "Cora"})
    assert desk.agent.get("/customers/merge-suggestions").data == []
    assert len(desk.agent.get("/customers/merge-suggestions", dismissed=True).data) == 1
    assert desk.agent.post("/customers/merge-suggestions/999999/dismiss").status == 404


def test_a_ticket_for_a_secondary_verified_address_goes_to_its_customer(desk: Desk) -> None:
    cora = _customer_id(desk, desk.customer_email)
    row = _add(desk.agent, cora, "email", "cora@private.test", verified=True)
    assert row.status == 201, row
    t = desk.agent.post(
        "/tickets",
        {"subject": "Hi", "body": "From home", "requester_email": "Cora@Private.test"},
    )
    assert t.status == 201, t
    assert t.data["requester"]["id"] == cora


def test_a_request_from_a_merged_or_secondary_address_is_filed_for_its_customer(
    desk: Desk,
) -> None:
    """The portal's confirmation and agents' new tickets ask the same function."""
    from flowdesk.accounts.identities import customer_for_request
    from flowdesk.accounts.merge import check_merge_customers
    from flowdesk.accounts.models import User
    from flowdesk.core.clock import utcnow

    cora = User.objects.get(email=desk.customer_email)
    finn = User.objects.get(email=desk.other_customer_email)
    assert _add(desk.agent, cora.pk, "email", "cora@private.test", verified=True).status == 201
    assert customer_for_request("Cora@Private.test") == cora
    check_merge_customers(finn.pk, cora.pk, actor=None, now=utcnow())
    assert customer_for_request("finn@free.test") == cora
    new = customer_for_request("new@person.test", "New")
    assert (new.email, new.name, new.pk in (cora.pk, finn.pk)) == ("new@person.test", "New", False)
