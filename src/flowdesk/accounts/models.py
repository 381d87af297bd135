"""People: organizations, users in three roles (admin, agent, customer), teams and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models

from flowdesk.core.clock import utcnow


class Role(models.TextChoices):
    ADMIN = "admin"
    AGENT = "agent"
    CUSTOMER = "customer"


class Organization(models.Model):
    name = models.CharField(max_length=200, unique=True)
    # Free-form attributes rules can read as organization.<attr> (e.g. tier: enterprise).
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=utcnow)

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(role=Role.ADMIN, is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    # Customer attributes rules can read as requester.<attr>.
    attributes = models.JSONField(default=dict, blank=True)
    #: the interface (and e-mail) language the user chose; "" follows the browser
    language = models.CharField(max_length=10, blank=True, default="")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=utcnow)
    #: a merged customer's survivor: the row stays as a tombstone (inactive) that points there
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from"
    )

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        # The agents of a desk among its (many) customers, by e-mail: every ticket page's and
        # inbox's assignee menu, and the directory (a scan of every customer without it).
        indexes = [models.Index(fields=["role", "email"], name="user_role_email")]

    def __str__(self) -> str:
        return self.email

    @property
    def is_agent(self) -> bool:
        """Admins are agents too: they work tickets and also manage rules."""
        return self.role in (Role.AGENT, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(User, related_name="teams", blank=True)

    def __str__(self) -> str:
        return self.name


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token. Only its hash is stored; the plain value is shown once, at creation."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(default=utcnow)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def new_key() -> str:
        return "fd_" + secrets.token_urlsafe(32)


# --- identities and merges (docs/customers.md) -------------------------------------------------


class IdentityKind(models.TextChoices):
    EMAIL = "email"
    PHONE = "phone"
    CHAT = "chat"  # a chat visitor id
    SITE_USER = "site_user"  # the customer's user id on the company's own site


class Identity(models.Model):
    """An address or id by which a channel knows a customer. ``value`` is normalised per kind
    (flowdesk.accounts.identities.normalise), so the unique keys compare like with like.
    A tombstone holds none: a merge moves them to the survivor, so the keys hold among live
    customers."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=16, choices=IdentityKind.choices)
    value = models.CharField(max_length=254)
    verified = models.BooleanField(default=False)
    primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=utcnow)
    #: e-mail only: the latest bounce (a delivery report naming this address) and how many
    bounced_at = models.DateTimeField(null=True, blank=True)
    bounce_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["kind", "-primary", "id"]
        # Who holds (kind, value), verified or not: every inbound mail's sender lookup and every
        # new customer's claim check (the partial unique index serves only verified=True).
        indexes = [models.Index(fields=["kind", "value"], name="identity_kind_value")]
        constraints = [
            # One customer holds a value verified; unverified claims may sit beside it (each
            # one is a merge suggestion), never two of one customer.
            models.UniqueConstraint(
                fields=["kind", "value"],
                condition=models.Q(verified=True),
                name="unique_verified_identity",
            ),
            models.UniqueConstraint(fields=["user", "kind", "value"], name="unique_identity"),
            models.UniqueConstraint(
                fields=["user", "kind"],
                condition=models.Q(primary=True),
                name="one_primary_identity_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class MergeSuggestion(models.Model):
    """Two customers who may be one person, for an agent to merge or dismiss. The pair is stored
    with the lower id first, so a suggestion is recorded once whichever side found it."""

    first = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=utcnow)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["first", "second"], name="unique_merge_suggestion"),
            models.CheckConstraint(
                condition=models.Q(first__lt=models.F("second")), name="merge_suggestion_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_id} ~ {self.second_id}"


class CustomerMerge(models.Model):
    """One merge of ``source`` into ``target``, with the ids it moved, so that an unmerge puts
    back exactly those rows and nothing else."""

    source = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    target = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: {"tickets": [...], "messages": [...], "identities": [...], "organization": id | null,
    #:  "primary_identities": [...], "was_active": bool}
    moved = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=utcnow)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"customer {self.source_id} into {self.target_id}"
