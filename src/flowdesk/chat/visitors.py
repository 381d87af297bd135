"""Who a chat visitor is: an identified site user (a valid identity hash), the visitor of an
earlier chat (its token), or someone new. What a visitor types is a claim, never a proof: an
e-mail typed in the pre-chat form does not attach the chat to the customer holding it; it is
recorded as an unverified identity and suggests a merge instead (as mail intake does).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flowdesk.accounts.identities import (
    check_add_identity,
    customer_for_identity,
    suggest_merge,
)
from flowdesk.accounts.models import IdentityKind, Role, User
from flowdesk.chat.models import ChatConversation, ChatSite, hash_token
from flowdesk.core.errors import FieldError, ValidationFailed

#: the login of a visitor's customer record: never mailed (delivery mails the address left in
#: the form instead), unique per visitor
PLACEHOLDER_DOMAIN = "visitors.invalid"
#: the stored name of a visitor who gave none (the workspace shows it translated)
VISITOR_NAME = "Chat visitor"


def is_placeholder(email: str) -> bool:
    """A visitor's placeholder login, not an address anyone reads."""
    return email.lower().endswith("@" + PLACEHOLDER_DOMAIN)


def identity_hash(secret: str, user_id: str) -> str:
    """What the site's server computes: hex HMAC-SHA256 of the user id, keyed by the secret."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verified_site_user(site: ChatSite, user_id: str, given_hash: str) -> str:
    """The site user id when ``given_hash`` proves it ("" when neither was sent); a missing or
    wrong hash is a 422 naming ``identifier_hash``."""
    user_id, given_hash = user_id.strip(), given_hash.strip().lower()
    if not user_id and not given_hash:
        return ""
    if not user_id:
        raise ValidationFailed([FieldError("user_id", "required with identifier_hash")])
    if not given_hash:
        raise ValidationFailed([FieldError("identifier_hash", "required with user_id")])
    if not hmac.compare_digest(identity_hash(site.identity_secret, user_id), given_hash):
        raise ValidationFailed(
            [FieldError("identifier_hash", f"does not match user_id {user_id!r} for this site")]
        )
    return user_id


def returning_customer(previous_token: str) -> User | None:
    """The customer of an earlier chat, proven by that chat's token."""
    if not previous_token:
        return None
    found = (
        ChatConversation.objects.filter(token_hash=hash_token(previous_token))
        .select_related("ticket__requester")
        .first()
    )
    return found.ticket.requester if found is not None else None


def new_visitor_customer(name: str) -> tuple[User, str]:
    """A customer record for a new visitor, and its public visitor id (``chat`` identity)."""
    from flowdesk.accounts.services import do_create_user

    visitor_id = "v_" + secrets.token_urlsafe(12)
    login = f"{visitor_id.lower().replace('_', '-')}-{secrets.token_hex(4)}@{PLACEHOLDER_DOMAIN}"
    customer = do_create_user(login, name=name or VISITOR_NAME, role=Role.CUSTOMER)
    check_add_identity(customer, kind=IdentityKind.CHAT, value=visitor_id, verified=True)
    return customer, visitor_id


def customer_for_visitor(site_user: str, previous: User | None, name: str) -> tuple[User, str]:
    """(customer, visitor id): the verified holder of ``site_user``; else the returning
    visitor's customer; else a new one (holding ``site_user`` verified, when given)."""
    if site_user:
        holder, verified = customer_for_identity(IdentityKind.SITE_USER, site_user)
        if holder is not None and verified:
            return holder, _visitor_id(holder)
    if previous is not None and previous.merged_into_id is None:
        customer, visitor_id = previous, _visitor_id(previous)
    else:
        customer, visitor_id = new_visitor_customer(name)
    if (
        site_user
        and not customer.identities.filter(kind=IdentityKind.SITE_USER, value=site_user).exists()
    ):
        # The hash proves it; an unverified claim of another customer becomes a suggestion.
        check_add_identity(customer, kind=IdentityKind.SITE_USER, value=site_user, verified=True)
    return customer, visitor_id


def _visitor_id(customer: User) -> str:
    row = customer.identities.filter(kind=IdentityKind.CHAT).order_by("id").first()
    if row is not None:
        return row.value
    visitor_id = "v_" + secrets.token_urlsafe(12)
    check_add_identity(customer, kind=IdentityKind.CHAT, value=visitor_id, verified=True)
    return visitor_id


def claim_email(customer: User, email: str) -> None:
    """An e-mail the visitor typed: an unverified identity of ``customer``; when another
    customer holds it verified, a merge suggestion instead (never an attachment)."""
    if not email:
        return
    holder, verified = customer_for_identity(IdentityKind.EMAIL, email)
    if holder is not None and holder.pk == customer.pk:
        return
    if customer.identities.filter(kind=IdentityKind.EMAIL, value=email).exists():
        return
    if holder is not None and verified:
        suggest_merge(customer, holder, f"a chat visitor typed {email}")
        return
    check_add_identity(customer, kind=IdentityKind.EMAIL, value=email, verified=False)
