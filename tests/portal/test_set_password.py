"""Setting a password from the portal: a customer signed in by mailed link sets one (Django's
password validators, clear errors), then signs in with e-mail and password."""

from __future__ import annotations

from django.test import Client

from portal_helpers import mailed_link
from web_helpers import WebDesk, client_for


def _signed_in_by_link(email: str) -> Client:
    client = Client()
    client.post("/portal/login", {"via": "link", "email": email})
    link = mailed_link(email)
    assert client.post(f"{link}/go").status_code == 302
    return client


def test_a_customer_signed_in_by_link_sets_a_password_and_signs_in_with_it(web: WebDesk) -> None:
    from flowdesk.accounts.services import do_create_user

    do_create_user("noor@example.org", name="Noor Santos")  # no password: the link only
    client = _signed_in_by_link("noor@example.org")
    page = client.get("/portal/password")
    assert page.status_code == 200
    assert "at least 8 characters" in page.content.decode()  # the validators' rules, shown
    cases = [
        ({"new_password1": "short", "new_password2": "short"}, "too short"),
        ({"new_password1": "12345678901", "new_password2": "12345678901"}, "entirely numeric"),
        ({"new_password1": "password123", "new_password2": "password123"}, "too common"),
        ({"new_password1": "noorsantos", "new_password2": "noorsantos"}, "too similar"),
        ({"new_password1": "a long secret", "new_password2": "another one"}, "passwords differ"),
        ({"new_password1": "", "new_password2": ""}, "This field is required."),
    ]
    for form, error in cases:
        r = client.post("/portal/password", form)
        assert r.status_code == 422, form
        assert error in r.content.decode(), (form, error)
    good = "mango tree by the river"
    r = client.post("/portal/password", {"new_password1": good, "new_password2": good})
    assert r.status_code == 200
    assert "Your password is set" in r.content.decode()
    assert client.get("/portal/").status_code == 200  # still signed in here
    fresh = Client()
    wrong = fresh.post("/portal/login", {"username": "noor@example.org", "password": "nope"})
    assert "do not match an account" in wrong.content.decode()
    r = fresh.post("/portal/login", {"username": "NOOR@example.org", "password": good})
    assert (r.status_code, r["Location"]) == (302, "/portal/")


def test_setting_a_password_needs_a_signed_in_customer(web: WebDesk) -> None:
    r = Client().get("/portal/password")
    assert (r.status_code, r["Location"]) == (302, "/portal/login?next=/portal/password")
    assert Client().post("/portal/password", {}).status_code == 302
    r = client_for(web.alice).get("/portal/password")  # agents have the workspace
    assert (r.status_code, r["Location"]) == (302, "/agent/")
    enforced = Client(enforce_csrf_checks=True)
    enforced.force_login(web.cora)
    form = {"new_password1": "mango tree by the river", "new_password2": "mango tree by the river"}
    assert enforced.post("/portal/password", form).status_code == 403
