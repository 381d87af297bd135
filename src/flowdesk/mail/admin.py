"""Mailboxes in the studio's Django admin (/studio/admin/): added, changed and removed through
the same services as the API. The password is write-only: left blank on a change, it stays."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Model
from django.http import HttpRequest

from flowdesk.mail import services
from flowdesk.mail.models import Mailbox
from flowdesk.studio.admin import ServiceAdmin, site


class MailboxForm(forms.ModelForm):  # type: ignore[type-arg]
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored to log in (see docs/mail.md, threat model); blank keeps the current one.",
    )

    class Meta:
        model = Mailbox
        fields = [f for f in services.FIELDS if f != "password"] + ["password"]


class MailboxAdmin(ServiceAdmin):
    form = MailboxForm
    list_display = ("name", "kind", "host", "folder", "listen", "team", "active", "last_error")
    search_fields = ("name", "host", "username")

    def create(self, data: dict[str, Any]) -> Model:
        return services.check_create_mailbox(_values(data))

    def update(self, obj: Mailbox, data: dict[str, Any]) -> None:
        values = _values(data)
        if not values.get("password"):
            values.pop("password", None)
        values.pop("name", None)
        services.check_update_mailbox(obj, values)

    def remove(self, obj: Mailbox) -> None:
        services.check_delete_mailbox(obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("name",) if obj is not None else ()


def _values(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k in services.FIELDS}


site.register(Mailbox, MailboxAdmin)
