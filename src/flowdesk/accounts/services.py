"""Writers for accounts. Like every service module: do_* write and record (no permission checks),
check_* validate caller input first, naming every bad field, and then call do_*. Callers check
permissions (the API through flowdesk.accounts.selectors and flowdesk.api.auth).

Unique natural keys (e-mail, team and organization names) are enforced by the database: a
friendly pre-check names the clash, and the insert itself runs in a savepoint whose
IntegrityError becomes a 409, so two requests racing for one name never produce a 500.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Q

from flowdesk.accounts import identities, selectors
from flowdesk.accounts.models import ApiToken, Organization, Role, Team, User, hash_token
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import Conflict, FieldError, ValidationFailed
from flowdesk.engine.vocabulary import TIERS as ORG_TIERS

AGENT_ROLES = (Role.AGENT, Role.ADMIN)
# The ticket and directory filters use "none" for "no team / no organization".
RESERVED_NAMES = frozenset({"none"})
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+$")
ATTR_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_TEXT = 1000
MIN_PASSWORD = 8


# --- shared checks ---------------------------------------------------------------------------


@contextmanager
def unique_or_conflict(message: str) -> Iterator[None]:
    """Run a write in a savepoint; a unique-key violation (also one a concurrent request
    committed a moment ago) answers 409 instead of escaping as a server error."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        raise Conflict(message) from exc


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def refuse_if_named(what: str, rules: list[str]) -> None:
    if rules:
        raise Conflict(
            f"{what} is named by the active rule set ({plural(len(rules), 'rule')}: "
            f"{', '.join(rules)}); change the rule set first"
        )


def clean_text(
    errors: list[FieldError], field: str, value: str, *, max_length: int, required: bool = True
) -> str:
    text = value.strip()
    if required and not text:
        errors.append(FieldError(field, "must not be blank"))
    elif len(text) > max_length:
        errors.append(FieldError(field, f"must be at most {max_length} characters"))
    return text


def _clean_email(errors: list[FieldError], value: str) -> str:
    email = value.strip().lower()
    if not EMAIL_SHAPE.match(email) or len(email) > 254:
        errors.append(FieldError("email", f"{value!r} is not an e-mail address"))
    return email


def _clean_name(errors: list[FieldError], value: str, max_length: int) -> str:
    name = clean_text(errors, "name", value, max_length=max_length)
    if name.casefold() in RESERVED_NAMES:
        errors.append(FieldError("name", f"{name!r} is reserved (filters use it for 'no value')"))
    return name


def attribute_errors(field: str, attributes: Any) -> list[FieldError]:
    """Attributes are what rules read as requester.<key> / organization.<key>: flat scalars."""
    if not isinstance(attributes, dict):
        return [FieldError(field, "must be a JSON object")]
    errors: list[FieldError] = []
    if len(attributes) > MAX_ATTRIBUTES:
        errors.append(FieldError(field, f"at most {MAX_ATTRIBUTES} attributes"))
    for key, value in attributes.items():
        where = f"{field}.{key}"
        if not isinstance(key, str) or not ATTR_KEY.match(key):
            errors.append(
                FieldError(where, "a key is a letter or _, then letters, digits or _ (at most 64)")
            )
        elif isinstance(value, str):
            if len(value) > MAX_ATTRIBUTE_TEXT:
                errors.append(FieldError(where, f"at most {MAX_ATTRIBUTE_TEXT} characters"))
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if abs(value) >= 2**63:
                errors.append(FieldError(where, "must fit in 64 bits"))
        elif isinstance(value, float):
            if not math.isfinite(value):
                errors.append(FieldError(where, "must be a finite number"))
        else:
            errors.append(
                FieldError(where, "must be text, a number or true/false (not null, list, object)")
            )
    return errors


def _fail(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(errors)


def save_changed(obj: models.Model, changes: dict[str, Any]) -> None:
    """Set the attributes that differ and save only those columns."""
    fields = [name for name, value in changes.items() if getattr(obj, name) != value]
    for name in fields:
        setattr(obj, name, changes[name])
    if fields:
        obj.save(update_fields=fields)


def _refuse_taken_name(model: type[Team] | type[Organization], name: str, pk: int | None) -> None:
    """Names are unique case-insensitively, so 'billing' cannot sit beside 'Billing'."""
    others = model.objects.filter(name__iexact=name)
    other = (others.exclude(pk=pk) if pk is not None else others).first()
    if other is not None:
        what = model._meta.verbose_name
        raise Conflict(f"a {what} named {other.name!r} already exists (id {other.pk})")


def _refuse_taken_email(email: str, pk: int | None = None) -> None:
    others = User.objects.filter(email=email)
    other = (others.exclude(pk=pk) if pk is not None else others).first()
    if other is not None:
        article = "an" if other.role in (Role.ADMIN, Role.AGENT) else "a"
        raise Conflict(
            f"e-mail {email!r} already belongs to {article} {other.role} (id {other.pk})"
        )


def _teams_named(names: list[str], errors: list[FieldError]) -> list[Team]:
    found = {t.name: t for t in Team.objects.filter(name__in=names)}
    for i, name in enumerate(names):
        if name not in found:
            known = ", ".join(Team.objects.order_by("name").values_list("name", flat=True))
            errors.append(FieldError(f"teams[{i}]", f"no team named {name!r} (teams: {known})"))
    return list(found.values())


def _member_agents(emails: list[str], errors: list[FieldError], team: Team | None) -> list[User]:
    """Active agents by e-mail; a deactivated agent already in the team may stay (so a client
    echoing the member list it read is not refused), but none is added."""
    wanted = [e.strip().lower() for e in emails]
    agents = User.objects.filter(email__in=wanted, role__in=AGENT_ROLES)
    keep = Q(teams=team) if team is not None else Q(pk__in=[])
    found = {u.email: u for u in agents.filter(Q(is_active=True) | keep).distinct()}
    for i, email in enumerate(wanted):
        if email not in found:
            errors.append(FieldError(f"members[{i}]", f"no active agent with e-mail {email!r}"))
    return list(found.values())


def _organization_named(name: str, errors: list[FieldError]) -> Organization | None:
    org = Organization.objects.filter(name=name).first()
    if org is None:
        errors.append(FieldError("organization", f"no organization named {name!r}"))
    return org


# --- users -----------------------------------------------------------------------------------


def do_create_user(
    email: str,
    *,
    name: str = "",
    role: str = Role.CUSTOMER,
    organization: Organization | None = None,
    attributes: dict[str, Any] | None = None,
    password: str | None = None,
    teams: Iterable[Team] = (),
    existing_ok: bool = False,
) -> User:
    """``existing_ok``: insert-or-get. When another transaction creates the same e-mail first
    (20 simultaneous tickets for one new requester), return that user instead of failing on the
    unique constraint; the insert runs in a savepoint, so the caller's transaction goes on."""
    try:
        with transaction.atomic():  # a savepoint inside the caller's transaction
            user = User.objects.create_user(
                email,
                password,
                name=name,
                role=role,
                organization=organization,
                attributes=attributes or {},
                is_staff=role == Role.ADMIN,
                created_at=utcnow(),
            )
            teams = list(teams)
            if teams:  # a new user has no teams: nothing to read or clear
                user.teams.set(teams)
            # a customer's login is its primary e-mail
            identities.do_sync_primary_email(user, created=True)
    except IntegrityError:
        if not existing_ok:
            raise
        # The other insert has committed (PostgreSQL made ours wait for it), so it is visible.
        existing = User.objects.filter(email=User.objects.normalize_email(email).lower()).first()
        if existing is None:
            raise
        return existing
    return user


def _create_unique_user(email: str, **fields: Any) -> User:
    _refuse_taken_email(email)
    with unique_or_conflict(f"e-mail {email!r} is already in use"):
        return do_create_user(email, **fields)


def _password_errors(password: str) -> list[FieldError]:
    if len(password) < MIN_PASSWORD:
        return [FieldError("password", f"must be at least {MIN_PASSWORD} characters")]
    try:
        password_validation.validate_password(password)
    except DjangoValidationError as exc:
        return [FieldError("password", m) for m in exc.messages]
    return []


def check_create_agent(
    *,
    email: str,
    name: str = "",
    role: str = Role.AGENT,
    teams: Iterable[str] = (),
    password: str | None = None,
) -> User:
    errors: list[FieldError] = []
    email = _clean_email(errors, email)
    name = clean_text(errors, "name", name, max_length=200, required=False)
    if role not in AGENT_ROLES:
        errors.append(FieldError("role", f"{role!r} is not one of agent, admin"))
    team_rows = _teams_named(list(teams), errors)
    if password is not None:
        errors += _password_errors(password)
    _fail(errors)
    return _create_unique_user(email, name=name, role=role, teams=team_rows, password=password)


def do_update_agent(
    agent: User,
    *,
    name: str | None = None,
    role: str | None = None,
    teams: list[Team] | None = None,
    active: bool | None = None,
) -> User:
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if role is not None:
        changes.update(role=role, is_staff=role == Role.ADMIN)
    if active is not None:
        changes["is_active"] = active
    with transaction.atomic():
        save_changed(agent, changes)
        if teams is not None:
            agent.teams.set(teams)
    return agent


def _lock_with_admins(user: User) -> tuple[User, int]:
    """Lock every active admin, then the user; return the fresh user and the admin count.

    Admins are locked in id order first, so two admins demoting each other at the same moment
    queue up (and the second sees the first's change) instead of deadlocking or both winning.
    """
    admins = list(
        User.objects.select_for_update()
        .filter(role=Role.ADMIN, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return User.objects.select_for_update().get(pk=user.pk), len(admins)


def check_update_agent(
    agent: User,
    *,
    name: str | None = None,
    role: str | None = None,
    teams: list[str] | None = None,
    active: bool | None = None,
) -> User:
    """Demoting or deactivating the last active admin, and deactivating an agent the active
    rule set names, are refused (409) with the reason."""
    errors: list[FieldError] = []
    if name is not None:
        name = clean_text(errors, "name", name, max_length=200, required=False)
    if role is not None and role not in AGENT_ROLES:
        errors.append(FieldError("role", f"{role!r} is not one of agent, admin"))
    team_rows = _teams_named(teams, errors) if teams is not None else None
    _fail(errors)
    with transaction.atomic():
        fresh, admins = _lock_with_admins(agent)
        leaves_admins = role not in (None, Role.ADMIN) or active is False
        if fresh.is_admin and fresh.is_active and leaves_admins and admins <= 1:
            raise Conflict(
                f"{fresh.email} is the last active admin; make another agent an admin first"
            )
        if active is False and fresh.is_active:
            rules = selectors.rules_naming(selectors.naming_agent(fresh.email))
            refuse_if_named(f"agent {fresh.email!r}", rules)
        return do_update_agent(fresh, name=name, role=role, teams=team_rows, active=active)


def check_create_customer(
    *,
    email: str,
    name: str = "",
    organization: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> User:
    errors: list[FieldError] = []
    email = _clean_email(errors, email)
    name = clean_text(errors, "name", name, max_length=200, required=False)
    org = _organization_named(organization, errors) if organization is not None else None
    errors += attribute_errors("attributes", attributes or {})
    _fail(errors)
    return _create_unique_user(
        email, name=name, role=Role.CUSTOMER, organization=org, attributes=attributes
    )


def check_update_customer(
    customer: User,
    *,
    email: str | None = None,
    name: str | None = None,
    organization: str | None = None,
    clear_organization: bool = False,
    attributes: dict[str, Any] | None = None,
) -> User:
    """attributes replaces the whole object (send the full set; omit it to keep it)."""
    errors: list[FieldError] = []
    changes: dict[str, Any] = {}
    if email is not None:
        changes["email"] = _clean_email(errors, email)
    if name is not None:
        changes["name"] = clean_text(errors, "name", name, max_length=200, required=False)
    if clear_organization:
        changes["organization"] = None
    elif organization is not None:
        changes["organization"] = _organization_named(organization, errors)
    if attributes is not None:
        errors += attribute_errors("attributes", attributes)
        changes["attributes"] = attributes
    _fail(errors)
    if "email" in changes:
        _refuse_taken_email(changes["email"], customer.pk)
        identities.refuse_taken_identity(customer, "email", changes["email"])
    with unique_or_conflict(f"e-mail {changes.get('email')!r} is already in use"):
        save_changed(customer, changes)
        identities.do_sync_primary_email(customer)  # keeps the identities in step with email
    return customer


# --- teams -----------------------------------------------------------------------------------


def do_create_team(name: str, members: Iterable[User] = (), description: str = "") -> Team:
    with transaction.atomic():
        team = Team.objects.create(name=name, description=description)
        team.members.set(list(members))
    return team


def _team_input(
    team: Team | None, name: str | None, description: str | None, members: list[str] | None
) -> tuple[dict[str, Any], list[User] | None]:
    errors: list[FieldError] = []
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _clean_name(errors, name, 100)
    if description is not None:
        changes["description"] = clean_text(
            errors, "description", description, max_length=2000, required=False
        )
    rows = _member_agents(members, errors, team) if members is not None else None
    _fail(errors)
    return changes, rows


def check_create_team(*, name: str, description: str = "", members: Iterable[str] = ()) -> Team:
    changes, rows = _team_input(None, name, description, list(members))
    _refuse_taken_name(Team, changes["name"], None)
    with unique_or_conflict(f"a team named {changes['name']!r} already exists"):
        return do_create_team(changes["name"], rows or [], changes["description"])


def do_update_team(team: Team, changes: dict[str, Any], members: list[User] | None) -> Team:
    with transaction.atomic():
        save_changed(team, changes)
        if members is not None:
            team.members.set(members)
    return team


def check_update_team(
    team: Team,
    *,
    name: str | None = None,
    description: str | None = None,
    members: list[str] | None = None,
) -> Team:
    """Renaming a team the active rule set names is refused: rules name teams by name."""
    changes, rows = _team_input(team, name, description, members)
    if changes.get("name", team.name) != team.name:
        _refuse_taken_name(Team, changes["name"], team.pk)
        refuse_if_named(
            f"team {team.name!r}", selectors.rules_naming(selectors.naming_team(team.name))
        )
    with unique_or_conflict(f"a team named {changes.get('name')!r} already exists"):
        return do_update_team(team, changes, rows)


def do_delete_team(team: Team) -> None:
    team.delete()


def check_delete_team(team: Team) -> None:
    """Only an unused team goes: its tickets would otherwise silently lose their team."""
    with transaction.atomic():
        # The row lock makes a ticket being moved to this team right now wait (or be counted).
        Team.objects.select_for_update().filter(pk=team.pk).first()
        tickets = team.tickets.count()
        if tickets:
            raise Conflict(
                f"team {team.name!r} is used by {plural(tickets, 'ticket')}; "
                "move them to another team first"
            )
        rules = selectors.rules_naming(selectors.naming_team(team.name))
        refuse_if_named(f"team {team.name!r}", rules)
        do_delete_team(team)


# --- organizations ---------------------------------------------------------------------------


def do_create_organization(name: str, attributes: dict[str, Any] | None = None) -> Organization:
    return Organization.objects.create(name=name, attributes=attributes or {}, created_at=utcnow())


def _organization_input(name: str | None, attributes: dict[str, Any] | None) -> dict[str, Any]:
    errors: list[FieldError] = []
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _clean_name(errors, name, 200)
    if attributes is not None:
        errors += attribute_errors("attributes", attributes)
        tier = attributes.get("tier")
        if "tier" in attributes and tier not in ORG_TIERS:
            errors.append(
                FieldError("attributes.tier", f"{tier!r} is not one of {', '.join(ORG_TIERS)}")
            )
        changes["attributes"] = attributes
    _fail(errors)
    return changes


def check_create_organization(
    *, name: str, attributes: dict[str, Any] | None = None
) -> Organization:
    changes = _organization_input(name, attributes or {})
    _refuse_taken_name(Organization, changes["name"], None)
    with unique_or_conflict(f"an organization named {changes['name']!r} already exists"):
        return do_create_organization(changes["name"], changes["attributes"])


def check_update_organization(
    org: Organization, *, name: str | None = None, attributes: dict[str, Any] | None = None
) -> Organization:
    """attributes replaces the whole object; renaming one that rules name is refused."""
    changes = _organization_input(name, attributes)
    if changes.get("name", org.name) != org.name:
        _refuse_taken_name(Organization, changes["name"], org.pk)
        if changes["name"].casefold() != org.name.casefold():
            rules = selectors.rules_naming(selectors.naming_organization(org.name))
            refuse_if_named(f"organization {org.name!r}", rules)
    with unique_or_conflict(f"an organization named {changes.get('name')!r} already exists"):
        save_changed(org, changes)
    return org


def do_delete_organization(org: Organization) -> None:
    org.delete()


def check_delete_organization(org: Organization) -> None:
    """Only an unused organization goes: members and tickets would silently lose it."""
    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=org.pk).first()
        members, tickets = org.members.count(), org.tickets.count()
        if members or tickets:
            used = [plural(n, k) for n, k in ((members, "customer"), (tickets, "ticket")) if n]
            raise Conflict(f"organization {org.name!r} is used by {' and '.join(used)}")
        rules = selectors.rules_naming(selectors.naming_organization(org.name))
        refuse_if_named(f"organization {org.name!r}", rules)
        do_delete_organization(org)


# --- tokens ----------------------------------------------------------------------------------


def do_create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """Returns the token row and the plain key, which is not stored and cannot be shown again."""
    raw = ApiToken.new_key()
    token = ApiToken.objects.create(
        user=user, name=name, key_hash=hash_token(raw), prefix=raw[:10], created_at=utcnow()
    )
    return token, raw


def access_token(raw: str) -> ApiToken | None:
    """The only loader of tokens by key: unknown, revoked and inactive-user tokens are all None.
    A loader never writes; the caller records the use with ``do_touch_token``."""
    from flowdesk.accounts.lookups import token_by_hash

    return token_by_hash(hash_token(raw))


def do_touch_token(token: ApiToken, now: datetime) -> None:
    """Record a use, at most once a minute, so reads don't turn every request into a write."""
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def do_revoke_token(token: ApiToken, now: datetime) -> None:
    token.revoked_at = now
    token.save(update_fields=["revoked_at"])


def do_set_language(user: User, code: str) -> None:
    """The user's interface language (one of settings.LANGUAGES; "" follows the browser)."""
    if user.language != code:
        user.language = code
        user.save(update_fields=["language"])


def do_set_password(user: User, raw_password: str) -> None:
    """A new password (already validated: the password-reset form runs the validators)."""
    user.set_password(raw_password)
    user.save(update_fields=["password"])
