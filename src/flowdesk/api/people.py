"""Who am I, and the directory: agents, customers, teams and organizations.

Reads are for agents and admins (customers read only themselves, at /me); writes are for admins,
except customers, which agents may also create and edit: they talk to them all day, and already
create them implicitly by opening a ticket for an unknown requester.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from ninja import Query, Router, Schema, Status
from pydantic import ConfigDict, Field

from flowdesk.accounts import selectors
from flowdesk.accounts import services as svc
from flowdesk.accounts.identities import survivor
from flowdesk.accounts.models import Organization, Team, User
from flowdesk.api.auth import current_user, require_admin, require_agent
from flowdesk.api.schemas import BODY_ERRORS, Email, Limit, Offset, RequestIn, UserRef, errors

M = TypeVar("M", bound=Model)
Name = Annotated[str, Field(max_length=200)]
RoleT = Literal["agent", "admin"]
Attributes = Annotated[
    dict[str, Any],
    Field(description="Flat JSON object of text, numbers and booleans; rules read them."),
]


class WriteIn(RequestIn):
    """A write body: an unknown key is a 422 naming it, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class PageIn(RequestIn):
    q: str | None = Field(None, max_length=200, description="words in the name (or e-mail)")
    limit: Limit = 50
    offset: Offset = 0


class PageOut(Schema):
    count: int
    limit: int
    offset: int


def page(qs: QuerySet[M], filters: PageIn, out: Callable[[M], dict[str, Any]]) -> dict[str, Any]:
    items = [out(row) for row in qs[filters.offset : filters.offset + filters.limit]]
    return {"count": qs.count(), "limit": filters.limit, "offset": filters.offset, "items": items}


# --- /me -------------------------------------------------------------------------------------


class OrganizationRef(Schema):
    id: int
    name: str


class MeOut(Schema):
    id: int
    email: str
    name: str
    role: str
    teams: list[str]
    organization: OrganizationRef | None


me_router = Router(tags=["people"])


@me_router.get(
    "",
    response={200: MeOut, **errors(401)},
    summary="Who am I: the token's user, role, teams, organization",
)
def me(request: HttpRequest) -> dict[str, Any]:
    user = current_user(request)
    org = user.organization
    return {
        "id": user.pk,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "teams": sorted(t.name for t in user.teams.all()),
        "organization": {"id": org.pk, "name": org.name} if org else None,
    }


# --- agents ----------------------------------------------------------------------------------


class AgentOut(Schema):
    id: int
    email: str
    name: str
    role: str
    active: bool
    teams: list[str]
    created_at: datetime
    last_login: datetime | None


class AgentPage(PageOut):
    items: list[AgentOut]


class AgentFilters(PageIn):
    team: str | None = Field(None, description="team name, or 'none'")
    active: bool | None = None
    role: RoleT | None = None


class AgentCreate(WriteIn):
    email: Email
    name: Name = ""
    role: RoleT = "agent"
    teams: list[str] = Field([], max_length=100, description="team names")
    password: str | None = Field(
        None, max_length=128, description="for the web login; API access is by token"
    )


class AgentPatch(WriteIn):
    name: Name | None = None
    role: RoleT | None = None
    teams: list[str] | None = Field(None, max_length=100, description="replaces the teams")
    active: bool | None = Field(None, description="false deactivates, true reactivates")


def agent_out(u: User) -> dict[str, Any]:
    return {
        "id": u.pk,
        "email": u.email,
        "name": u.name,
        "role": u.role,
        "active": u.is_active,
        "teams": sorted(t.name for t in u.teams.all()),
        "created_at": u.created_at,
        "last_login": u.last_login,
    }


agents_router = Router(tags=["agents"])


@agents_router.get(
    "", response={200: AgentPage, **errors(401, 403, 422)}, summary="Agents and admins"
)
def list_agents(request: HttpRequest, filters: Query[AgentFilters]) -> dict[str, Any]:
    qs = selectors.agents_for(
        current_user(request),
        team=filters.team,
        active=filters.active,
        role=filters.role,
        q=filters.q,
    )
    return page(qs, filters, agent_out)


@agents_router.get(
    "/{agent_id}", response={200: AgentOut, **errors(401, 403, 404, 422)}, summary="One agent"
)
def get_agent(request: HttpRequest, agent_id: int) -> dict[str, Any]:
    return agent_out(selectors.access_agent_by_id(current_user(request), agent_id))


@agents_router.post(
    "",
    response={201: AgentOut, **errors(401, 403, 409, *BODY_ERRORS)},
    summary="Create an agent or admin (admins)",
)
def create_agent(request: HttpRequest, payload: AgentCreate) -> Status[Any]:
    require_admin(request)
    agent = svc.check_create_agent(
        email=payload.email,
        name=payload.name,
        role=payload.role,
        teams=payload.teams,
        password=payload.password,
    )
    return Status(201, agent_out(agent))


@agents_router.patch(
    "/{agent_id}",
    response={200: AgentOut, **errors(401, 403, 404, 409, *BODY_ERRORS)},
    summary="Update an agent (admins)",
)
def update_agent(request: HttpRequest, agent_id: int, payload: AgentPatch) -> dict[str, Any]:
    agent = selectors.access_agent_by_id(require_admin(request), agent_id)
    return agent_out(
        svc.check_update_agent(
            agent,
            name=payload.name,
            role=payload.role,
            teams=payload.teams,
            active=payload.active,
        )
    )


@agents_router.post(
    "/{agent_id}/deactivate",
    response={200: AgentOut, **errors(401, 403, 404, 409, *BODY_ERRORS)},
    summary="Deactivate an agent (admins); history is kept, tokens stop working",
)
def deactivate_agent(request: HttpRequest, agent_id: int) -> dict[str, Any]:
    agent = selectors.access_agent_by_id(require_admin(request), agent_id)
    return agent_out(svc.check_update_agent(agent, active=False))


# --- customers -------------------------------------------------------------------------------


class CustomerOut(Schema):
    id: int
    email: str
    name: str
    organization: str | None
    organization_id: int | None
    attributes: dict[str, Any]
    active: bool
    merged_into: int | None = Field(None, description="the customer this one was merged into")
    created_at: datetime


class CustomerPage(PageOut):
    items: list[CustomerOut]


class CustomerFilters(PageIn):
    organization: str | None = Field(None, description="organization name, or 'none'")
    merged: bool = Field(
        False, description="true: only customers merged into another (tombstones) instead"
    )


class CustomerCreate(WriteIn):
    email: Email
    name: Name = ""
    organization: str | None = Field(None, description="organization name")
    attributes: Attributes = {}


class CustomerPatch(WriteIn):
    email: Email | None = None
    name: Name | None = None
    organization: str | None = Field(None, description="organization name; null removes it")
    attributes: Attributes | None = Field(None, description="replaces all attributes")


def customer_out(u: User) -> dict[str, Any]:
    return {
        "id": u.pk,
        "email": u.email,
        "name": u.name,
        "organization": u.organization.name if u.organization else None,
        "organization_id": u.organization_id,
        "attributes": u.attributes,
        "active": u.is_active,
        "merged_into": u.merged_into_id,
        "created_at": u.created_at,
    }


customers_router = Router(tags=["customers"])


@customers_router.get(
    "", response={200: CustomerPage, **errors(401, 403, 422)}, summary="Customers (agents)"
)
def list_customers(request: HttpRequest, filters: Query[CustomerFilters]) -> dict[str, Any]:
    qs = selectors.customers_for(
        current_user(request), organization=filters.organization, q=filters.q, merged=filters.merged
    )
    return page(qs, filters, customer_out)


@customers_router.get(
    "/{customer_id}",
    response={200: CustomerOut, **errors(401, 403, 404, 422)},
    summary="One customer (agents)",
)
def get_customer(request: HttpRequest, customer_id: int) -> Any:
    customer = selectors.access_customer_by_id(current_user(request), customer_id)
    if customer.merged_into_id is not None:  # a tombstone: its survivor (docs/customers.md)
        here = request.path.rstrip("/").rsplit("/", 1)[0]
        return HttpResponseRedirect(f"{here}/{survivor(customer).pk}", status=307)
    return customer_out(customer)


@customers_router.post(
    "",
    response={201: CustomerOut, **errors(401, 403, 409, *BODY_ERRORS)},
    summary="Create a customer (agents)",
)
def create_customer(request: HttpRequest, payload: CustomerCreate) -> Status[Any]:
    require_agent(request)
    customer = svc.check_create_customer(
        email=payload.email,
        name=payload.name,
        organization=payload.organization,
        attributes=payload.attributes,
    )
    return Status(201, customer_out(customer))


@customers_router.patch(
    "/{customer_id}",
    response={200: CustomerOut, **errors(401, 403, 404, 409, *BODY_ERRORS)},
    summary="Edit a customer (agents)",
)
def update_customer(
    request: HttpRequest, customer_id: int, payload: CustomerPatch
) -> dict[str, Any]:
    customer = selectors.access_customer_by_id(require_agent(request), customer_id)
    sent = payload.model_fields_set
    svc.check_update_customer(
        customer,
        email=payload.email,
        name=payload.name,
        organization=payload.organization,
        clear_organization="organization" in sent and payload.organization is None,
        attributes=payload.attributes,
    )
    return customer_out(selectors.access_customer_by_id(current_user(request), customer_id))


# --- teams -----------------------------------------------------------------------------------


class TeamOut(Schema):
    id: int
    name: str
    description: str
    members: list[UserRef]
    ticket_count: int


class TeamPage(PageOut):
    items: list[TeamOut]


class TeamCreate(WriteIn):
    name: str = Field(max_length=100)
    description: str = Field("", max_length=2000)
    members: list[Email] = Field([], max_length=1000, description="agent e-mails")


class TeamPatch(WriteIn):
    name: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=2000)
    members: list[Email] | None = Field(None, max_length=1000, description="replaces the members")


def team_out(t: Team) -> dict[str, Any]:
    members = sorted(t.members.all(), key=lambda u: u.email)
    return {
        "id": t.pk,
        "name": t.name,
        "description": t.description,
        "members": [{"id": u.pk, "email": u.email, "name": u.name} for u in members],
        "ticket_count": getattr(t, "ticket_count", 0),
    }


teams_router = Router(tags=["teams"])


@teams_router.get(
    "",
    response={200: TeamPage, **errors(401, 403, 422)},
    summary="Teams and their members (agents)",
)
def list_teams(request: HttpRequest, filters: Query[PageIn]) -> dict[str, Any]:
    return page(selectors.teams_for(current_user(request), q=filters.q), filters, team_out)


@teams_router.get(
    "/{team_id}", response={200: TeamOut, **errors(401, 403, 404, 422)}, summary="One team (agents)"
)
def get_team(request: HttpRequest, team_id: int) -> dict[str, Any]:
    return team_out(selectors.access_team_by_id(current_user(request), team_id))


@teams_router.post(
    "",
    response={201: TeamOut, **errors(401, 403, 409, *BODY_ERRORS)},
    summary="Create a team (admins)",
)
def create_team(request: HttpRequest, payload: TeamCreate) -> Status[Any]:
    user = require_admin(request)
    team = svc.check_create_team(
        name=payload.name, description=payload.description, members=payload.members
    )
    return Status(201, team_out(selectors.access_team_by_id(user, team.pk)))


@teams_router.patch(
    "/{team_id}",
    response={200: TeamOut, **errors(401, 403, 404, 409, *BODY_ERRORS)},
    summary="Rename or edit a team (admins)",
)
def update_team(request: HttpRequest, team_id: int, payload: TeamPatch) -> dict[str, Any]:
    user = require_admin(request)
    team = selectors.access_team_by_id(user, team_id)
    svc.check_update_team(
        team, name=payload.name, description=payload.description, members=payload.members
    )
    return team_out(selectors.access_team_by_id(user, team_id))


@teams_router.delete(
    "/{team_id}",
    response={204: None, **errors(401, 403, 404, 409, 422)},
    summary="Delete an unused team (admins)",
)
def delete_team(request: HttpRequest, team_id: int) -> Status[Any]:
    svc.check_delete_team(selectors.access_team_by_id(require_admin(request), team_id))
    return Status(204, None)


# --- organizations ---------------------------------------------------------------------------


class OrganizationOut(Schema):
    id: int
    name: str
    attributes: dict[str, Any]
    member_count: int
    ticket_count: int
    created_at: datetime


class OrganizationPage(PageOut):
    items: list[OrganizationOut]


class OrganizationCreate(WriteIn):
    name: Name
    attributes: Attributes = {}


class OrganizationPatch(WriteIn):
    name: Name | None = None
    attributes: Attributes | None = Field(None, description="replaces all attributes")


def organization_out(o: Organization) -> dict[str, Any]:
    return {
        "id": o.pk,
        "name": o.name,
        "attributes": o.attributes,
        "member_count": getattr(o, "member_count", 0),
        "ticket_count": getattr(o, "ticket_count", 0),
        "created_at": o.created_at,
    }


organizations_router = Router(tags=["organizations"])


@organizations_router.get(
    "", response={200: OrganizationPage, **errors(401, 403, 422)}, summary="Organizations (agents)"
)
def list_organizations(request: HttpRequest, filters: Query[PageIn]) -> dict[str, Any]:
    qs = selectors.organizations_for(current_user(request), q=filters.q)
    return page(qs, filters, organization_out)


@organizations_router.get(
    "/{org_id}",
    response={200: OrganizationOut, **errors(401, 403, 404, 422)},
    summary="One organization",
)
def get_organization(request: HttpRequest, org_id: int) -> dict[str, Any]:
    return organization_out(selectors.access_organization_by_id(current_user(request), org_id))


@organizations_router.post(
    "",
    response={201: OrganizationOut, **errors(401, 403, 409, *BODY_ERRORS)},
    summary="Create an organization (admins)",
)
def create_organization(request: HttpRequest, payload: OrganizationCreate) -> Status[Any]:
    user = require_admin(request)
    org = svc.check_create_organization(name=payload.name, attributes=payload.attributes)
    return Status(201, organization_out(selectors.access_organization_by_id(user, org.pk)))


@organizations_router.patch(
    "/{org_id}",
    response={200: OrganizationOut, **errors(401, 403, 404, 409, *BODY_ERRORS)},
    summary="Edit an organization (admins)",
)
def update_organization(
    request: HttpRequest, org_id: int, payload: OrganizationPatch
) -> dict[str, Any]:
    user = require_admin(request)
    org = selectors.access_organization_by_id(user, org_id)
    svc.check_update_organization(org, name=payload.name, attributes=payload.attributes)
    return organization_out(selectors.access_organization_by_id(user, org_id))


@organizations_router.delete(
    "/{org_id}",
    response={204: None, **errors(401, 403, 404, 409, 422)},
    summary="Delete an unused organization (admins)",
)
def delete_organization(request: HttpRequest, org_id: int) -> Status[Any]:
    user = require_admin(request)
    svc.check_delete_organization(selectors.access_organization_by_id(user, org_id))
    return Status(204, None)
