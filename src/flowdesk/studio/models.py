"""Two views of the one User table for the Django admin: agents (and admins) and customers.
Proxies only: no table, no column; every write still goes through flowdesk.accounts.services."""

from __future__ import annotations

from flowdesk.accounts.models import User


class Agent(User):
    class Meta:
        proxy = True
        verbose_name = "agent"
        ordering = ["email"]


class Customer(User):
    class Meta:
        proxy = True
        verbose_name = "customer"
        ordering = ["email"]
