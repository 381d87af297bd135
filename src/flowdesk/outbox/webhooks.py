"""Webhook delivery: signed, to the address that was checked, never anywhere else.

Every call is checked again here, whatever the rule's validation said: the endpoint must be
registered, the URL must pass the literal checks of ``flowdesk.engine.netguard``, and every
address the host resolves to must be public unless allowlisted. flowdesk then connects to that
checked address itself (no second DNS lookup a rebinding server could answer differently), while
the Host header and the TLS server name stay the URL's host. Redirects are never followed: a 3xx
is the outcome of the attempt. Headers flowdesk owns (Host, hop-by-hop, framing, signatures) are
dropped from a rule's headers, in case a stored rule predates the check.

Signature (docs/deployment.md, "Webhooks"): ``X-Flowdesk-Timestamp: <unix seconds>`` and
``X-Flowdesk-Signature: v1=<hex>[, v1=<hex>]``, HMAC-SHA256 of ``<timestamp>.<body>`` with each
active secret of the endpoint, newest first.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
import secrets as secrets_module
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction

from flowdesk.accounts.models import User
from flowdesk.automation.catalog import endpoint_of, private_allowlist
from flowdesk.automation.models import WebhookEndpoint, WebhookSecret
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from flowdesk.engine import netguard
from flowdesk.engine.netguard import Allowlist, IPAddress

USER_AGENT = "flowdesk-webhook/1"


class WebhookRefused(Exception):
    """The call may not be made (unregistered, forbidden destination); nothing was sent."""


class WebhookTimeout(Exception):
    """The destination did not answer in time."""


class WebhookFailed(Exception):
    """The call was made (or tried) and did not succeed: unreachable, or a non-2xx answer."""


class WebhookUnreachable(WebhookFailed):
    """No connection could be made (no address, refused, reset): nothing reached the receiver."""


def sign(secrets: list[str], timestamp: int, body: bytes) -> str:
    """The X-Flowdesk-Signature value: one ``v1=<hex>`` per secret, newest first."""
    signed = str(timestamp).encode() + b"." + body
    return ", ".join(
        "v1=" + hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets
    )


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (tests replace this to play a rebinding DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[IPAddress] = []
    for info in infos:
        ip = netguard.ip_literal(str(info[4][0]))
        if ip is not None and ip not in out:
            out.append(ip)
    return out


def checked_addresses(host: str, port: int, allow: Allowlist) -> list[IPAddress]:
    """The addresses to connect to; refused when any of them is private and not allowlisted
    (a name answering both a public and a private address is treated as hostile)."""
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise WebhookUnreachable(f"cannot resolve {host}: {exc}") from exc
    if not addresses:
        raise WebhookUnreachable(f"{host} resolves to no address")
    if allow.allows_host(host):
        return addresses
    for ip in addresses:
        why = netguard.address_problem(ip)
        if why is not None and not allow.allows_ip(ip):
            raise WebhookRefused(
                f"{host} resolves to {ip}, {why}: refused (allowlist it with "
                "FLOWDESK_WEBHOOK_ALLOW_PRIVATE or the endpoint's allow_private)"
            )
    return addresses


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to ``ip``; Host stays the name given as ``host``."""

    def __init__(self, host: str, port: int, ip: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.pinned = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self.pinned), self.port), self.timeout)


class _PinnedHTTPS(_PinnedHTTP):
    def __init__(self, host: str, port: int, ip: IPAddress, timeout: float) -> None:
        super().__init__(host, port, ip, timeout)
        self.context = ssl.create_default_context()

    def connect(self) -> None:
        super().connect()
        # SNI and certificate checks are for the name, not for the address connected to.
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)


@dataclass(frozen=True)
class Call:
    """What is sent: the endpoint that signs, the URL, and the request itself."""

    endpoint: WebhookEndpoint
    url: str
    method: str
    headers: dict[str, str]
    body: bytes


def _endpoint(payload: Mapping[str, Any]) -> tuple[WebhookEndpoint, str]:
    name, url = payload.get("endpoint"), payload.get("url")
    if name:
        row = WebhookEndpoint.objects.filter(name=name).first()
        if row is None:
            raise WebhookRefused(f"webhook endpoint {name!r} is not registered")
        url = url or row.url
        if not endpoint_of(row).owns(str(url)):
            raise WebhookRefused(f"{url!r} does not belong to webhook endpoint {name!r}")
        return row, str(url)
    url = str(url or "")
    rows = [endpoint_of(e) for e in WebhookEndpoint.objects.all()]
    owner = netguard.WebhookPolicy(tuple(rows)).endpoint_for(url)
    if owner is None:
        raise WebhookRefused(
            f"{url!r} belongs to no registered webhook endpoint (register it: POST /api/webhooks)"
        )
    return WebhookEndpoint.objects.get(name=owner.name), url


def prepare(payload: Mapping[str, Any], idempotency_key: str, now: int | None = None) -> Call:
    """The signed request for one outbox payload, or WebhookRefused."""
    row, url = _endpoint(payload)
    secrets = list(
        WebhookSecret.objects.filter(endpoint=row, retired_at__isnull=True)
        .order_by("-created_at", "-id")
        .values_list("secret", flat=True)
    )
    if not secrets:
        raise WebhookRefused(f"webhook endpoint {row.name!r} has no active secret")
    body = json.dumps(payload.get("body"), default=str).encode()
    timestamp = int(utcnow().timestamp()) if now is None else now
    headers = {
        str(k): str(v)
        for k, v in (payload.get("headers") or {}).items()
        if netguard.header_problem(str(k), str(v)) is None
    }
    headers.update(
        {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": idempotency_key,
            "X-Flowdesk-Endpoint": row.name,
            "X-Flowdesk-Timestamp": str(timestamp),
            "X-Flowdesk-Signature": sign(secrets, timestamp, body),
        }
    )
    method = str(payload.get("method") or "POST")
    if method not in ("POST", "PUT", "PATCH"):
        raise WebhookRefused(f"webhook method {method!r} is not POST, PUT or PATCH")
    return Call(row, url, method, headers, body)


def send(call: Call, timeout: float) -> int:
    """Makes the call; returns the 2xx status, else raises (3xx included: never followed)."""
    allow = private_allowlist()
    endpoint = endpoint_of(call.endpoint)
    allow = netguard.WebhookPolicy(allow=allow).allowlist_for(endpoint)
    problems = netguard.url_problems(call.url, allow)
    if problems:
        raise WebhookRefused(problems[0])
    parts = urlsplit(call.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    target = target.replace(" ", "%20")  # the checks refused every other character it refuses
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    last: Exception | None = None
    for ip in checked_addresses(host, port, allow):
        conn = kind(host, port, ip, timeout)
        try:
            conn.request(call.method, target, body=call.body, headers=call.headers)
            response = conn.getresponse()
            response.read(int(settings.FLOWDESK["WEBHOOK_MAX_RESPONSE_BYTES"]))
            status, location = response.status, response.getheader("Location")
        except TimeoutError as exc:
            raise WebhookTimeout(f"webhook timed out after {timeout:g}s ({host} at {ip})") from exc
        except (OSError, http.client.HTTPException) as exc:
            last = exc
            continue  # the next checked address, if the name has several
        finally:
            conn.close()
        if 300 <= status < 400:
            raise WebhookFailed(
                f"webhook answered HTTP {status} (redirect to {location!r} not followed)"
            )
        if not 200 <= status < 300:
            raise WebhookFailed(f"webhook answered HTTP {status}")
        return status
    raise WebhookUnreachable(f"webhook unreachable: {last}")


def deliver(payload: Mapping[str, Any], idempotency_key: str, timeout: float) -> int:
    return send(prepare(payload, idempotency_key), timeout)


# --- the endpoint registry (admins, through /api/webhooks) -------------------------------------

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
#: two secrets sign during a rotation; a third must wait until one is retired
MAX_ACTIVE_SECRETS = 2


def new_secret() -> str:
    return "whsec_" + secrets_module.token_urlsafe(32)


def active_secrets(endpoint: WebhookEndpoint) -> list[WebhookSecret]:
    return list(endpoint.secrets.filter(retired_at__isnull=True).order_by("-created_at", "-id"))


def check_create_endpoint(
    *, name: str, url: str, prefix: bool, allow_private: bool, author: User | None
) -> tuple[WebhookEndpoint, WebhookSecret]:
    """Registers an endpoint with its first secret (the only time, with rotation, it is shown)."""
    errors: list[FieldError] = []
    if not NAME.match(name):
        errors.append(FieldError("name", "letters, digits, '_', '.', '-'; at most 100"))
    allow = private_allowlist()
    if allow_private:
        allow = netguard.WebhookPolicy(allow=allow).allowlist_for(
            netguard.Endpoint(name, url, prefix, allow_private=True)
        )
    errors += [FieldError("url", msg) for msg in netguard.url_problems(url, allow)]
    if prefix and not errors and (urlsplit(url).query or urlsplit(url).fragment):
        errors.append(FieldError("url", "a base URL (prefix: true) has no query or fragment"))
    if errors:
        raise ValidationFailed(errors)
    return do_create_endpoint(
        name=name, url=url, prefix=prefix, allow_private=allow_private, author=author
    )


def do_create_endpoint(
    *, name: str, url: str, prefix: bool, allow_private: bool, author: User | None
) -> tuple[WebhookEndpoint, WebhookSecret]:
    try:
        with transaction.atomic():
            row = WebhookEndpoint.objects.create(
                name=name, url=url, prefix=prefix, allow_private=allow_private, created_by=author
            )
            secret = WebhookSecret.objects.create(endpoint=row, secret=new_secret())
    except IntegrityError as exc:
        raise Conflict(f"a webhook endpoint named {name!r} exists") from exc
    return row, secret


def access_endpoint(endpoint_id: int) -> WebhookEndpoint:
    row = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if row is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return row


def check_rotate_secret(endpoint: WebhookEndpoint) -> WebhookSecret:
    """A new secret signs beside the current one until the older is retired."""
    with transaction.atomic():
        WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        if len(active_secrets(endpoint)) >= MAX_ACTIVE_SECRETS:
            raise Conflict(
                f"webhook endpoint {endpoint.name!r} already has {MAX_ACTIVE_SECRETS} active "
                "secrets: retire the older one first"
            )
        return WebhookSecret.objects.create(endpoint=endpoint, secret=new_secret())


def check_retire_secret(endpoint: WebhookEndpoint, secret_id: int) -> WebhookSecret:
    """A retired secret never signs again; the last active one cannot be retired."""
    with transaction.atomic():
        WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        active = active_secrets(endpoint)
        secret = next((s for s in active if s.pk == secret_id), None)
        if secret is None:
            raise NotFound(f"no active secret {secret_id} of webhook endpoint {endpoint.name!r}")
        if len(active) == 1:
            raise Conflict("the last active secret cannot be retired: rotate first")
        secret.retired_at = utcnow()
        secret.save(update_fields=["retired_at"])
    return secret
