"""Seeds a realistic demo help desk through the services, so every ticket went through the rules."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from importlib import resources

from django.db import transaction

from flowdesk.accounts.models import Organization, Role, User
from flowdesk.accounts.services import (
    do_create_organization,
    do_create_team,
    do_create_token,
    do_create_user,
)
from flowdesk.automation.services import check_import_yaml
from flowdesk.chat.sites import check_create_site
from flowdesk.knowledge.fixtures import seed_demo_kb
from flowdesk.macros.yamlio import check_import_macros_yaml
from flowdesk.mail.services import check_create_mailbox
from flowdesk.sla.store import check_replace_policies
from flowdesk.sla.yamlio import check_import_calendars_yaml
from flowdesk.tickets.models import CustomFieldDef, Status, Ticket
from flowdesk.tickets.services import (
    Cause,
    ChangeSet,
    NewMessage,
    check_create_ticket,
    check_update_ticket,
)

ADMIN_EMAIL = "admin@flowdesk.localhost"
#: The customer (by index) who signs in to the portal with the demo password.
PORTAL_CUSTOMER = 1
#: The password of the demo admin and agents (the demo is for trying flowdesk out locally).
DEMO_PASSWORD = "demo"
AGENTS = {
    "Tier 1": [
        ("alice@flowdesk.localhost", "Alice Moreau"),
        ("bob@flowdesk.localhost", "Bob Okafor"),
    ],
    "Tier 2": [
        ("carol@flowdesk.localhost", "Carol Lindqvist"),
        ("dave@flowdesk.localhost", "Dave Ito"),
    ],
    "Billing": [("erin@flowdesk.localhost", "Erin Walsh")],
}
ORGS = [
    ("Acme Corp", "enterprise"),
    ("Globex", "enterprise"),
    ("Initech", "business"),
    ("Umbrella Health", "business"),
    ("Hooli Labs", "business"),
    ("Pied Piper", "free"),
    ("Vandelay Imports", "free"),
]
FIRST = [
    "Ana",
    "Ben",
    "Chloe",
    "Dmitri",
    "Elif",
    "Farah",
    "Goran",
    "Hana",
    "Ivan",
    "Julia",
    "Kenji",
    "Lena",
    "Marco",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
]
LAST = ["Silva", "Novak", "Kim", "Haddad", "Costa", "Berg", "Nakamura", "Okoro", "Rossi", "Weber"]
REQUESTS = [
    (
        "I was charged twice for my subscription",
        "My card shows two charges for this month. Please refund the duplicate.",
    ),
    ("Refund for cancelled order", "I cancelled within the trial period and would like a refund."),
    (
        "Invoice address is wrong",
        "The invoice for October has our old address. Can you reissue it?",
    ),
    (
        "Cannot log in after password reset",
        "The reset link says it expired although I used it at once.",
    ),
    ("Export to CSV times out", "Exporting our 40k contacts fails after a minute with a timeout."),
    ("How do I add a team member?", "We hired a new colleague; where do I invite them?"),
    ("API returns 500 on /orders", "Since this morning every call to /orders fails with HTTP 500."),
    ("Feature request: dark mode", "Our night shift would love a dark theme."),
    ("Two-factor codes not arriving", "SMS codes for 2FA never arrive on my phone."),
    ("Data missing after import", "Half of the rows from yesterday's import are not visible."),
    ("Question about the business plan", "Does the business plan include SSO?"),
    (
        "Payment failed but money was taken",
        "The checkout said the payment failed, yet my bank shows it.",
    ),
    ("Slow dashboard", "The dashboard takes 20 seconds to load since the last update."),
    ("Webhook deliveries stopped", "We no longer receive webhooks for new orders."),
]
CHANNELS = ["email", "email", "email", "web", "portal", "chat", "api", "phone"]
#: The longest a seeded conversation runs: 4 steps of at most 20 hours.
CONVERSATION_MAX = timedelta(hours=4 * 20)
AGENT_REPLIES = [
    "Thanks for the details - could you send us a screenshot of the error?",
    "We have reproduced the problem and are working on a fix.",
    "This should be fixed now. Could you confirm on your side?",
]
CUSTOMER_REPLIES = [
    "Here is the screenshot you asked for.",
    "It still happens, unfortunately.",
    "Any news on this?",
    "Thanks, that worked!",
]


#: The demo's SLA policies (docs/sla.md), so the warn / escalate time rules have clocks to act
#: on. Business time; each policy names the calendar of the team its tickets start in (Tier 2,
#: Berlin, takes the enterprise tickets; Tier 1 works by Manila, the default), so a Standard
#: ticket escalated to Tier 2 on its breach keeps the clock it was breached on.
DEMO_SLA_POLICIES: list[dict[str, object]] = [
    {
        "name": "Enterprise",
        "description": "Enterprise customers: answered within the hour, solved within 2 days.",
        "conditions": {"all": [{"field": "organization.tier", "op": "is", "value": "enterprise"}]},
        "targets": {
            "first_reply": {"urgent": "30m", "high": "1h", "normal": "2h", "low": "4h"},
            "next_reply": "4h",
            "resolution": "2d",
        },
        "calendar": "Berlin",
    },
    {
        "name": "Standard",
        "description": "Everyone else.",
        "targets": {"first_reply": "4h", "next_reply": "8h", "resolution": "5d"},
        "calendar": "Manila",
    },
]


#: An LMTP receiver on localhost, off: nothing listens until ``flowdesk mail receive --mailbox
#: demo`` runs (or it is switched on); its tickets go to Tier 1 and run by Berlin's hours
#: (docs/mail.md, "Try it locally").
DEMO_MAILBOX = {
    "name": "demo",
    "kind": "lmtp",
    "active": False,
    "listen": "127.0.0.1:2525",
    "addresses": ["support@flowdesk.localhost"],
    "team": "Tier 1",
    "calendar": "Berlin",
}


#: the demo's chat site: its widget is on flowdesk's own page /agent/chats/try (same origin, so
#: no allowed origin is needed); a customer's website would list its origin here
DEMO_CHAT_SITE = {"name": "demo", "team": "Tier 1", "allowed_origins": []}


def demo_rules_yaml() -> str:
    return resources.files("flowdesk.demo").joinpath("rules.yaml").read_text(encoding="utf-8")


def demo_calendars_yaml() -> str:
    """Manila (the default: Mon-Fri 08:00-12:00 and 13:00-17:00, Philippine holidays) and
    Berlin (Mon-Fri 09:00-17:00, holidays of Berlin), which Tier 2 works by."""
    return resources.files("flowdesk.demo").joinpath("calendars.yaml").read_text(encoding="utf-8")


def demo_macros_yaml() -> str:
    return resources.files("flowdesk.demo").joinpath("macros.yaml").read_text(encoding="utf-8")


def seed_demo(*, tickets: int = 200, seed: int = 7, now: datetime) -> dict[str, object]:
    """Creates people, the demo rule set and `tickets` tickets with some conversation history."""
    rng = random.Random(seed)
    with transaction.atomic():
        admin = do_create_user(
            ADMIN_EMAIL, name="Demo Admin", role=Role.ADMIN, password=DEMO_PASSWORD
        )
        agents: list[User] = []
        for team_name, people in AGENTS.items():
            members = [
                do_create_user(e, name=n, role=Role.AGENT, password=DEMO_PASSWORD)
                for e, n in people
            ]
            agents += members
            do_create_team(team_name, members)
        check_import_calendars_yaml(demo_calendars_yaml(), source="demo/calendars.yaml")
        check_replace_policies(DEMO_SLA_POLICIES, source="demo/seed.py")
        CustomFieldDef.objects.create(
            key="plan", label="Plan", kind="enum", choices=["starter", "pro", "scale"]
        )
        CustomFieldDef.objects.create(key="order_id", label="Order id", kind="text")
        orgs = [do_create_organization(n, {"tier": t}) for n, t in ORGS]
        customers: list[User] = []
        for i in range(40):
            first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
            org: Organization | None = orgs[i % len(orgs)] if i % 5 else None
            domain = org.name.lower().replace(" ", "") + ".example" if org else "mail.example"
            customers.append(
                do_create_user(
                    f"{first.lower()}.{last.lower()}{i}@{domain}",
                    name=f"{first} {last}",
                    organization=org,
                    attributes={"vip": i % 9 == 0},
                    # One customer of an organization can sign in to the portal (/portal/).
                    password=DEMO_PASSWORD if i == PORTAL_CUSTOMER else None,
                )
            )
        check_import_yaml(
            demo_rules_yaml(), source="demo/rules.yaml", author=admin, comment="demo processes"
        )
        check_import_macros_yaml(
            demo_macros_yaml(), source="demo/macros.yaml", actor=admin, now=now
        )
        seed_demo_kb(admin, now)  # the help center: ABCD articles, Filipino translations
        check_create_mailbox(DEMO_MAILBOX)
        # The live chat: a site for Tier 1, whose widget /agent/chats/try shows (docs/chat.md).
        check_create_site(DEMO_CHAT_SITE)
    # Tickets spread over the 30 days before `now`; a ticket's conversation takes at most
    # CONVERSATION_MAX, so nothing is dated after `now`.
    start = now - timedelta(days=30) - CONVERSATION_MAX
    span_minutes = 30 * 24 * 60 - 60
    created = 0
    for n in range(tickets):
        customer = rng.choice(customers)
        subject, body = rng.choice(REQUESTS)
        at = start + timedelta(
            minutes=int(n * (span_minutes / max(tickets, 1))) + rng.randint(0, 50)
        )
        ticket = check_create_ticket(
            actor=None,
            requester=customer,
            subject=subject,
            message=NewMessage(body_text=body),
            channel=rng.choice(CHANNELS),
            changes=ChangeSet(),
            cause=Cause.for_user(customer),
            now=at,
        )
        created += 1
        _converse(rng, ticket.pk, agents, customer, at)
    _, token = do_create_token(admin, "demo")
    return {
        "tickets": created,
        "admin": ADMIN_EMAIL,
        "token": token,
        "customer": customers[PORTAL_CUSTOMER].email,
    }


def _converse(
    rng: random.Random, ticket_id: int, agents: list[User], customer: User, at: datetime
) -> None:
    """A plausible life for a ticket: an agent answers, sets pending; the customer may reply; some
    tickets get solved."""
    steps = rng.choice([0, 1, 2, 3, 4])
    ticket = Ticket.objects.select_related("team").get(pk=ticket_id)
    team_agents = [a for a in agents if ticket.team and a.teams.filter(pk=ticket.team.pk).exists()]
    agent = rng.choice(team_agents or agents)
    for step in range(steps):
        at += timedelta(hours=rng.randint(1, 20))
        ticket = Ticket.objects.get(pk=ticket_id)
        if step % 2 == 0:
            last = step == steps - 1 and rng.random() < 0.6
            check_update_ticket(
                ticket,
                changes=ChangeSet(
                    values={
                        "assignee": agent.email,
                        "status": Status.SOLVED if last else Status.PENDING,
                    }
                ),
                message=NewMessage(body_text=rng.choice(AGENT_REPLIES), public=True),
                expected_version=ticket.version,
                cause=Cause.for_user(agent),
                now=at,
            )
        else:
            check_update_ticket(
                ticket,
                changes=ChangeSet(),
                message=NewMessage(body_text=rng.choice(CUSTOMER_REPLIES)),
                expected_version=ticket.version,
                cause=Cause.for_user(customer),
                now=at,
            )
