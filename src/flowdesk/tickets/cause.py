"""Who or what made an update: copied onto the update row and every event it records.

Every writer states its cause: agents and customers (web, API), API tokens, rules (with the chain
of rules that led to them), and the coming timers and channels (mail, chat, portal). ``detail``
carries what the kind alone does not say: a timer's purpose, a mailbox, a chat session.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowdesk.accounts.models import ApiToken, User


class CauseKind(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"
    TOKEN = "token"
    RULE = "rule"
    TIMER = "timer"
    MAIL = "mail"
    CHAT = "chat"
    PORTAL = "portal"
    SYSTEM = "system"


@dataclass(frozen=True)
class Cause:
    kind: CauseKind
    actor: User | None = None
    token: ApiToken | None = None
    rule: str = ""
    rule_chain: tuple[str, ...] = ()
    detail: str = ""

    @classmethod
    def for_user(cls, user: User, token: ApiToken | None = None) -> Cause:
        if token is not None:
            return cls(CauseKind.TOKEN, user, token)
        return cls(CauseKind.AGENT if user.is_agent else CauseKind.CUSTOMER, user)

    @classmethod
    def system(cls, detail: str = "") -> Cause:
        return cls(CauseKind.SYSTEM, detail=detail)

    @classmethod
    def timer(cls, purpose: str) -> Cause:
        return cls(CauseKind.TIMER, detail=purpose)

    @classmethod
    def channel(cls, kind: CauseKind, detail: str, actor: User | None = None) -> Cause:
        """An inbound channel (mail, chat, portal) writing on behalf of ``actor``, if known."""
        if kind not in (CauseKind.MAIL, CauseKind.CHAT, CauseKind.PORTAL):
            raise ValueError(f"{kind} is not a channel cause")
        return cls(kind, actor, detail=detail)

    def for_rule(self, rule: str, chain: tuple[str, ...]) -> Cause:
        """The cause of a rule's changes within an update started by ``self``."""
        return Cause(CauseKind.RULE, rule=rule, rule_chain=chain)

    @property
    def author_is_agent(self) -> bool:
        return self.actor is not None and self.actor.is_agent
