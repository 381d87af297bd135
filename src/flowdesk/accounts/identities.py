"""Which customer an address, a phone number, a chat visitor or a site user belongs to, and the
writers of identities and merge suggestions (docs/customers.md).

A customer's ``User.email`` is its primary, verified e-mail identity: every writer of either goes
through ``do_sync_primary_email`` / ``check_make_primary`` here, so the two never drift apart.
Values are normalised per kind before they are stored or looked up, so ``Cora@Acme.test`` and
``cora@acme.test`` are one identity and ``+44 20 7946 0958`` is ``+442079460958``.

Uniqueness: one live customer holds a (kind, value) verified; unverified claims of the same value
by other customers may exist beside it, and each is a merge suggestion, not an attachment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet

from flowdesk.accounts.models import Identity, IdentityKind, MergeSuggestion, Role, User
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed

KINDS = tuple(k.value for k in IdentityKind)
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+$")
MAX_VALUE = 254


def normalise(kind: str, value: str) -> str:
    """The stored form of ``value`` for ``kind``, or ValidationFailed naming ``value``.

    e-mail: trimmed and lower-cased whole (flowdesk lower-cases logins too). Phone: E.164 by
    libphonenumber; a number without a country code must start with + or 00. Chat visitor and
    site user ids are opaque: trimmed only (case matters)."""
    if kind not in KINDS:
        raise ValidationFailed([FieldError("kind", f"{kind!r} is not one of {', '.join(KINDS)}")])
    text = value.strip()
    problem = ""
    if not text:
        problem = "must not be blank"
    elif len(text) > MAX_VALUE:
        problem = f"must be at most {MAX_VALUE} characters"
    elif kind == IdentityKind.EMAIL:
        text = text.lower()
        if not EMAIL_SHAPE.match(text):
            problem = f"{value!r} is not an e-mail address"
    elif kind == IdentityKind.PHONE:
        text, problem = _e164(text)
    if problem:
        raise ValidationFailed([FieldError("value", problem)])
    return text


def _e164(text: str) -> tuple[str, str]:
    raw = "+" + text[2:] if text.startswith("00") else text
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return text, f"{text!r} is not a phone number with its country code (+44 20 7946 0958)"
    if not phonenumbers.is_possible_number(number):
        return text, f"{text!r} is not a possible phone number"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""


def live_identities() -> QuerySet[Identity]:
    """Identities of live customers (not tombstones)."""
    return Identity.objects.filter(user__role=Role.CUSTOMER, user__merged_into__isnull=True)


def identity_fields(i: Identity) -> dict[str, Any]:
    """An identity as the API shows it (and as a merge keeps a row it folds away)."""
    return {
        "id": i.pk,
        "kind": i.kind,
        "value": i.value,
        "verified": i.verified,
        "primary": i.primary,
        "created_at": i.created_at,
        "bounced_at": i.bounced_at,
        "bounce_count": i.bounce_count,
    }


def do_record_bounces(addresses: list[str], now: datetime) -> int:
    """A delivery report named these addresses: every live customer's e-mail identity holding
    one is marked (latest bounce, count). Returns how many identities were marked."""
    values = sorted({normalise(IdentityKind.EMAIL, a) for a in addresses if a})
    if not values:
        return 0
    return (
        live_identities()
        .filter(kind=IdentityKind.EMAIL, value__in=values)
        .update(bounced_at=now, bounce_count=F("bounce_count") + 1)
    )


def customer_for_identity(kind: str, value: str) -> tuple[User | None, bool]:
    """The customer holding (kind, value) verified → (it, True); else the one holding it
    unverified (the oldest claim) → (it, False); else (None, False)."""
    try:
        value = normalise(kind, value)
    except ValidationFailed:
        return None, False
    rows = live_identities().filter(kind=kind, value=value).select_related("user")
    found = rows.order_by("-verified", "id").first()
    if found is not None:
        return found.user, found.verified
    if kind == IdentityKind.EMAIL:
        # A customer row written outside the services (no identity yet): its login is verified.
        user = User.objects.filter(
            email=value, role=Role.CUSTOMER, merged_into__isnull=True
        ).first()
        return user, user is not None
    return None, False


def customer_for_address(address: str) -> tuple[User | None, bool]:
    """The customer whose identity ``address`` is, and whether that identity is verified.

    An address with an @ is an e-mail address, anything else a phone number. Mail attaches to a
    customer only through a verified identity; an unverified match is a merge suggestion for
    the agents (``suggest_merge``), not an attachment."""
    kind = IdentityKind.EMAIL if "@" in address else IdentityKind.PHONE
    return customer_for_identity(kind, address)


def customers_for_addresses(addresses: Iterable[str]) -> dict[str, tuple[User, bool]]:
    """``customer_for_address`` for many e-mail addresses at once, in two queries (the mail
    intake reads the senders of a batch together): each address as given → (its customer,
    whether that identity is verified), by the same order (verified first, then the oldest
    claim; else a customer row with that login, verified). Addresses without a customer are
    left out."""
    wanted: dict[str, list[str]] = {}
    for address in addresses:
        if "@" not in address:
            continue
        try:
            wanted.setdefault(normalise(IdentityKind.EMAIL, address), []).append(address)
        except ValidationFailed:
            continue
    if not wanted:
        return {}
    found: dict[str, tuple[User, bool]] = {}
    rows = live_identities().filter(kind=IdentityKind.EMAIL, value__in=list(wanted))
    for identity in rows.select_related("user").order_by("-verified", "id"):
        found.setdefault(identity.value, (identity.user, identity.verified))
    missing = [v for v in wanted if v not in found]
    if missing:
        users = User.objects.filter(email__in=missing, role=Role.CUSTOMER, merged_into__isnull=True)
        for user in users.order_by("id"):
            found.setdefault(user.email, (user, True))
    return {a: found[v] for v, given in wanted.items() if v in found for a in given}


def survivor(user: User) -> User:
    """The live customer a tombstone was merged into (itself when it is live)."""
    seen = {user.pk}
    while user.merged_into_id is not None:
        user = User.objects.get(pk=user.merged_into_id)
        if user.pk in seen:  # merges lock their pair and refuse cycles; never loop anyway
            break
        seen.add(user.pk)
    return user


def customer_for_request(email: str, name: str = "") -> User:
    """Whom a new request from ``email`` is filed for: the user with that login (a merged
    customer's survivor), else the customer holding the address verified, else a new customer
    (insert-or-get: a concurrent request may be creating it right now)."""
    from flowdesk.accounts.services import do_create_user

    known = user_for_address(email)
    if known is not None:
        return known
    return do_create_user(email.strip(), name=name, role=Role.CUSTOMER, existing_ok=True)


def user_for_address(email: str) -> User | None:
    """The user an e-mail address stands for: the one with that login (a merged customer's
    survivor), else the customer holding it as a verified identity; None for an address no one
    holds or only claims (unverified)."""
    from flowdesk.accounts.lookups import user_by_email

    address = email.strip().lower()
    existing = user_by_email(address)
    if existing is not None:
        return survivor(existing)
    holder, verified = customer_for_identity(IdentityKind.EMAIL, address)
    return holder if verified else None


# --- suggestions -----------------------------------------------------------------------------


def suggest_merge(a: User, b: User, reason: str) -> MergeSuggestion | None:
    """Record that ``a`` and ``b`` may be one customer; once per pair (a dismissed pair stays
    dismissed). Nothing for the same customer, agents or tombstones."""
    if a.pk == b.pk or not all(
        u.role == Role.CUSTOMER and u.merged_into_id is None for u in (a, b)
    ):
        return None
    first, second = sorted((a.pk, b.pk))
    try:
        with transaction.atomic():
            row, _ = MergeSuggestion.objects.get_or_create(
                first_id=first,
                second_id=second,
                defaults={"reason": reason[:200], "created_at": utcnow()},
            )
    except IntegrityError:  # recorded by a concurrent request a moment ago
        row = MergeSuggestion.objects.get(first_id=first, second_id=second)
    return row


def suggest_for_claims(customer: User, kind: str, value: str) -> None:
    """Another customer holding the same value unverified: a suggestion for each."""
    others = live_identities().filter(kind=kind, value=value).exclude(user=customer)
    for other in others.select_related("user"):
        if not other.verified:
            suggest_merge(customer, other.user, f"both have {kind} {value}")


def suggest_same_name(customer: User) -> None:
    """Customers of one organization with the same (non-blank) name."""
    if not customer.name.strip() or customer.organization_id is None:
        return
    twins = User.objects.filter(
        role=Role.CUSTOMER,
        merged_into__isnull=True,
        organization_id=customer.organization_id,
        name__iexact=customer.name.strip(),
    ).exclude(pk=customer.pk)
    for twin in twins:
        suggest_merge(customer, twin, f"same name {customer.name!r} in one organization")


def suggestions_for(
    customer: User | None = None, *, dismissed: bool = False
) -> QuerySet[MergeSuggestion]:
    """Open suggestions (or the dismissed ones) between live customers; callers check that the
    reader is an agent (selectors.require_directory_access)."""
    qs = MergeSuggestion.objects.filter(
        dismissed_at__isnull=not dismissed,
        first__merged_into__isnull=True,
        second__merged_into__isnull=True,
    ).select_related("first", "second")
    if customer is not None:
        qs = qs.filter(Q(first=customer) | Q(second=customer))
    return qs


def do_dismiss_suggestion(suggestion_id: int, actor: User | None) -> MergeSuggestion:
    row = MergeSuggestion.objects.filter(pk=suggestion_id).first()
    if row is None:
        raise NotFound(f"merge suggestion {suggestion_id} not found")
    if row.dismissed_at is None:
        row.dismissed_at, row.dismissed_by = utcnow(), actor
        row.save(update_fields=["dismissed_at", "dismissed_by"])
    return row


# --- identity writers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """Who asks: an agent is told which customer holds a clashing value; others are not."""

    is_agent: bool


AGENT = Caller(is_agent=True)


def _holder_clash(customer: User, kind: str, value: str, caller: Caller) -> None:
    holder = (
        live_identities()
        .filter(kind=kind, value=value, verified=True)
        .exclude(user=customer)
        .select_related("user")
        .first()
    )
    if holder is None and kind == IdentityKind.EMAIL:
        other = User.objects.filter(email=value).exclude(pk=customer.pk).first()
        if other is not None and other.role != Role.CUSTOMER:
            raise ValidationFailed([FieldError("value", f"{value!r} is an agent's sign-in")])
    if holder is not None:
        who = f" (customer {holder.user.pk}, {holder.user.email})" if caller.is_agent else ""
        raise ValidationFailed(
            [FieldError("value", f"{kind} {value!r} already belongs to another customer{who}")]
        )


def refuse_taken_identity(customer: User, kind: str, value: str) -> None:
    """Before a customer's e-mail changes: another customer holding it verified is a 422."""
    _holder_clash(customer, kind, normalise(kind, value), AGENT)


def check_add_identity(
    customer: User,
    *,
    kind: str,
    value: str,
    verified: bool = False,
    caller: Caller = AGENT,
) -> Identity:
    """Add an identity (never primary: ``check_make_primary`` does that). A value another
    customer holds verified is refused (422 naming ``value``); one another customer merely
    claims (unverified) is accepted and recorded as a merge suggestion."""
    value = normalise(kind, value)
    if customer.identities.filter(kind=kind, value=value).exists():
        raise ValidationFailed([FieldError("value", f"this customer already has {kind} {value!r}")])
    _holder_clash(customer, kind, value, caller)
    try:
        with transaction.atomic():
            row = Identity.objects.create(
                user=customer, kind=kind, value=value, verified=verified, created_at=utcnow()
            )
    except IntegrityError as exc:  # a concurrent request took it a moment ago
        raise ValidationFailed(
            [FieldError("value", f"{kind} {value!r} already belongs to a customer")]
        ) from exc
    suggest_for_claims(customer, kind, value)
    return row


def access_identity(customer: User, identity_id: int) -> Identity:
    row = customer.identities.filter(pk=identity_id).first()
    if row is None:
        raise NotFound(f"identity {identity_id} of customer {customer.pk} not found")
    return row


def check_verify_identity(customer: User, identity_id: int) -> Identity:
    row = access_identity(customer, identity_id)
    if not row.verified:
        _holder_clash(customer, row.kind, row.value, AGENT)
        try:
            with transaction.atomic():
                row.verified = True
                row.save(update_fields=["verified"])
        except IntegrityError as exc:
            raise ValidationFailed(
                [FieldError("value", f"{row.kind} {row.value!r} was verified for a customer")]
            ) from exc
    return row


def check_remove_identity(customer: User, identity_id: int) -> None:
    """The primary e-mail is the customer's sign-in: make another e-mail primary first."""
    row = access_identity(customer, identity_id)
    if row.primary and row.kind == IdentityKind.EMAIL:
        raise Conflict(
            f"{row.value} is the customer's primary e-mail (its sign-in); "
            "make another verified e-mail primary first"
        )
    row.delete()


def _set_primary(customer: User, row: Identity) -> None:
    customer.identities.filter(kind=row.kind, primary=True).exclude(pk=row.pk).update(primary=False)
    if not row.primary:
        row.primary = True
        row.save(update_fields=["primary"])


def check_make_primary(customer: User, identity_id: int) -> Identity:
    """A primary e-mail must be verified, and becomes the customer's sign-in (User.email)."""
    row = access_identity(customer, identity_id)
    if row.kind == IdentityKind.EMAIL:
        if not row.verified:
            raise ValidationFailed(
                [FieldError("primary", f"verify {row.value} before making it the primary e-mail")]
            )
        taken = User.objects.filter(email=row.value).exclude(pk=customer.pk).first()
        if taken is not None:
            raise ValidationFailed(
                [FieldError("value", f"{row.value!r} is the sign-in of user {taken.pk}")]
            )
    with transaction.atomic():
        _set_primary(customer, row)
        if row.kind == IdentityKind.EMAIL and customer.email != row.value:
            customer.email = row.value
            customer.save(update_fields=["email"])
    return row


def do_sync_primary_email(customer: User, *, created: bool = False) -> None:
    """After a customer is created or its e-mail changed: ``User.email`` is its primary,
    verified e-mail identity (an older primary stays, verified, as a secondary address).
    Another customer's unverified claim to the address becomes a merge suggestion.

    ``created``: the customer was inserted a moment ago in the caller's transaction, so it has
    no identity yet: its primary one is inserted at once (one statement instead of a read, an
    insert and two updates; mail intake creates a customer for every new sender)."""
    if customer.role != Role.CUSTOMER or customer.merged_into_id is not None:
        return
    value = customer.email.strip().lower()
    if created:
        Identity.objects.create(
            user=customer,
            kind=IdentityKind.EMAIL,
            value=value,
            verified=True,
            primary=True,
            created_at=utcnow(),
        )
        suggest_for_claims(customer, IdentityKind.EMAIL, value)
        suggest_same_name(customer)
        return
    with transaction.atomic():
        row = customer.identities.filter(kind=IdentityKind.EMAIL, value=value).first()
        if row is None:
            row = Identity.objects.create(
                user=customer,
                kind=IdentityKind.EMAIL,
                value=value,
                verified=True,
                created_at=utcnow(),
            )
        elif not row.verified:
            row.verified = True
            row.save(update_fields=["verified"])
        _set_primary(customer, row)
    suggest_for_claims(customer, IdentityKind.EMAIL, value)
    suggest_same_name(customer)
