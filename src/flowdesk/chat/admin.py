"""Chat sites in the studio's Django admin (/studio/admin/): added, changed and removed through
the same writers as the API (``chat.sites``). The public key and identity secret are shown, not
edited (the API's ``rotate-secret`` makes a new secret)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Model
from django.http import HttpRequest

from flowdesk.chat import sites
from flowdesk.chat.models import ChatSite
from flowdesk.studio.admin import ServiceAdmin, site


class ChatSiteForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = ChatSite
        fields = sites.FIELDS


class ChatSiteAdmin(ServiceAdmin):
    form = ChatSiteForm
    list_display = ("name", "public_key", "team", "active")
    search_fields = ("name", "public_key")
    readonly_fields = ("public_key", "identity_secret")

    def create(self, data: dict[str, Any]) -> Model:
        return sites.check_create_site(_values(data))

    def update(self, obj: ChatSite, data: dict[str, Any]) -> None:
        values = _values(data)
        values.pop("name", None)
        sites.check_update_site(obj, values)

    def remove(self, obj: ChatSite) -> None:
        sites.check_delete_site(obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("name", *self.readonly_fields) if obj is not None else self.readonly_fields


def _values(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k in sites.FIELDS}


site.register(ChatSite, ChatSiteAdmin)
