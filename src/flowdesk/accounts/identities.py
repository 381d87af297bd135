"""Which customer an address or a chat visitor belongs to (interim: the user's own e-mail; the
identities model replaces the body and keeps the signature)."""

from __future__ import annotations

from flowdesk.accounts.models import Role, User


def customer_for_address(address: str) -> tuple[User | None, bool]:
    """The customer whose identity ``address`` is, and whether that identity is verified.

    Mail attaches to a customer only through a verified identity; an unverified match is a merge
    suggestion for the agents, not an attachment."""
    user = User.objects.filter(email=address.strip().lower(), role=Role.CUSTOMER).first()
    return user, user is not None
