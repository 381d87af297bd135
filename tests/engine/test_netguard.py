"""The webhook destination guard, pure: every notation of a forbidden address, at validation."""

from __future__ import annotations

from dataclasses import replace

import pytest
from engine_helpers import CATALOG

from flowdesk.engine import RuleSetError, compile_ruleset
from flowdesk.engine.netguard import (
    Allowlist,
    Endpoint,
    GuardedCatalog,
    WebhookPolicy,
    host_problem,
    ip_literal,
    url_problems,
)

# Each is a way to write an address flowdesk must not call (or a name for this machine).
FORBIDDEN = [
    "http://169.254.169.254/latest/meta-data/",
    "http://0xa9fea9fe/",
    "http://2852039166/",
    "http://127.0.0.1:5432/",
    "http://127.1/",
    "http://0177.0.0.1/",
    "http://0x7f000001/",
    "http://0x7f.0.0.1/",
    "http://2130706433/",
    "http://localhost/",
    "http://LOCALHOST./",
    "http://api.localhost/",
    "http://metadata.google.internal/",
    "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://[fe80::1%25eth0]/",
    "http://[fd00:ec2::254]/",
    "http://[::]/",
    "http://0.0.0.0/",
    "http://0/",
    "http://10.0.0.8/",
    "http://172.16.3.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://[ff02::1]/",
    "http://255.255.255.255/",
]


@pytest.mark.parametrize("url", FORBIDDEN)
def test_forbidden_destinations_are_refused(url: str) -> None:
    (problem,) = url_problems(url)
    assert "refused" in problem
    assert "allowlist" in problem


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("93.184.216.34", "93.184.216.34"),
    ],
)
def test_ip_literals_are_read_in_every_notation(host: str, expected: str) -> None:
    assert str(ip_literal(host)) == expected


@pytest.mark.parametrize("host", ["example.com", "hooks.example.org", "999.1.1.1", "1.2.3.4.5"])
def test_names_are_not_addresses(host: str) -> None:
    assert ip_literal(host) is None
    assert host_problem(host, Allowlist()) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/x", "http(s)"),
        ("http://user:password@example.com/", "credentials"),
        ("http://user@example.com/", "credentials"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://example.com\\@127.0.0.1/", "backslash"),
        ("http://exa mple.com/", "space"),
        ("http:///x", "http(s)"),
    ],
)
def test_malformed_urls_are_refused(url: str, why: str) -> None:
    (problem,) = url_problems(url)
    assert why in problem


def test_public_urls_pass() -> None:
    assert url_problems("https://hooks.example.com/t?x=1") == []
    assert url_problems("http://93.184.216.34:8080/") == []
    assert url_problems("http://[2606:4700::1111]/") == []


def test_allowlist_names_hosts_addresses_and_networks() -> None:
    allow = Allowlist.parse(["127.0.0.1", "intranet.local", "10.0.0.0/8", "[::1]"])
    assert url_problems("http://127.0.0.1:5432/", allow) == []
    assert url_problems("http://2130706433/", allow) == []  # the same address, another notation
    assert url_problems("http://10.20.30.40/", allow) == []
    assert url_problems("http://[::1]/", allow) == []
    assert url_problems("http://127.0.0.2/", allow) != []
    assert url_problems("http://localhost/", allow) != []


def _compile(action: dict[str, object], policy: WebhookPolicy) -> RuleSetError | None:
    catalog = GuardedCatalog(CATALOG.fields, CATALOG.teams, CATALOG.agents, webhooks=policy)
    rs = {"version": 1, "rules": [{"name": "r", "triggers": ["created"], "actions": [action]}]}
    try:
        compile_ruleset(rs, catalog=catalog)
    except RuleSetError as exc:
        return exc
    return None


REGISTERED = WebhookPolicy(
    endpoints=(
        Endpoint("crm", "https://crm.example.com/hooks/flowdesk"),
        Endpoint("api", "https://api.example.com/v1", prefix=True),
        Endpoint("sink", "http://127.0.0.1:8080/in", allow_private=True),
    ),
    require_endpoint=True,
)


@pytest.mark.parametrize("url", FORBIDDEN[:15])
def test_rule_validation_refuses_forbidden_urls_naming_rule_and_path(url: str) -> None:
    exc = _compile({"type": "webhook", "url": url}, WebhookPolicy())
    assert exc is not None
    (issue,) = exc.issues
    assert (issue.rule, issue.path) == ("r", "actions[0].url")
    assert "refused" in issue.message


@pytest.mark.parametrize(
    "header",
    [
        "Host",
        "host",
        "Connection",
        "Keep-Alive",
        "Transfer-Encoding",
        "TE",
        "Trailer",
        "Upgrade",
        "Proxy-Authorization",
        "Content-Length",
        "X-Flowdesk-Signature",
    ],
)
def test_rule_validation_refuses_connection_headers(header: str) -> None:
    action = {"type": "webhook", "url": "https://a.example.com/", "headers": {header: "x"}}
    exc = _compile(action, WebhookPolicy())
    assert exc is not None
    (issue,) = exc.issues
    assert issue.path == f"actions[0].headers.{header}"
    assert "set by flowdesk" in issue.message


def test_header_values_cannot_break_lines() -> None:
    action = {"type": "webhook", "url": "https://a.example.com/", "headers": {"X-A": "a\r\nB: c"}}
    exc = _compile(action, WebhookPolicy())
    assert exc is not None
    assert "line break" in exc.issues[0].message


def test_registered_endpoints_by_name_or_url() -> None:
    ok = [
        {"type": "webhook", "endpoint": "crm"},
        {"type": "webhook", "url": "https://crm.example.com/hooks/flowdesk"},
        {"type": "webhook", "url": "https://api.example.com/v1/tickets?x=1"},
        {"type": "webhook", "url": "http://127.0.0.1:8080/in"},  # vouched for by its endpoint
    ]
    for action in ok:
        assert _compile(action, REGISTERED) is None, action
    unknown = _compile({"type": "webhook", "endpoint": "crn"}, REGISTERED)
    assert unknown is not None
    assert unknown.issues[0].path == "actions[0].endpoint"
    assert unknown.issues[0].suggestion == "crm"
    for url in (
        "https://crm.example.com/hooks/other",
        "https://api.example.com/v10",
        "https://api.example.com:8443/v1/x",
        "http://127.0.0.1:8081/in",
    ):
        exc = _compile({"type": "webhook", "url": url}, REGISTERED)
        assert exc is not None, url
        assert url in exc.issues[0].message
        assert "POST /api/webhooks" in exc.issues[0].message or "refused" in exc.issues[0].message


def test_exactly_one_of_endpoint_or_url() -> None:
    for action in (
        {"type": "webhook"},
        {"type": "webhook", "endpoint": "crm", "url": "https://a.b/"},
    ):
        exc = _compile(action, REGISTERED)
        assert exc is not None
        assert "exactly one of 'endpoint' or 'url'" in exc.issues[0].message


def test_stored_versions_compile_without_the_destination_checks() -> None:
    lenient = replace(REGISTERED, check=False)
    assert _compile({"type": "webhook", "url": "http://127.0.0.1:1/"}, lenient) is None
