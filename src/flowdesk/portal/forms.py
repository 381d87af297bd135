"""The portal's forms. Limits match the ticket services' (subject 500 characters, message
``FLOWDESK["MESSAGE_MAX_CHARS"]``); the services check them again."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from flowdesk.portal.limits import HONEYPOT


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class FilesField(forms.FileField):
    """Several files in one input (Django's documented recipe); the limits are checked by
    ``portal.attachments.check_files`` so the message can name them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


def _message_field() -> forms.CharField:
    return forms.CharField(
        label=_("Message"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=int(settings.FLOWDESK["MESSAGE_MAX_CHARS"]),
    )


class ReplyForm(forms.Form):
    body = _message_field()
    upload = FilesField(label=_("Attach files"))


class NewTicketForm(forms.Form):
    """A signed-in customer's new request."""

    subject = forms.CharField(label=_("Subject"), max_length=500)
    body = _message_field()
    upload = FilesField(label=_("Attach files"))


class AnonymousTicketForm(forms.Form):
    """A request without an account: it becomes a ticket once the e-mail is confirmed."""

    name = forms.CharField(label=_("Your name"), max_length=200)
    email = forms.EmailField(label=_("Your e-mail"), max_length=254)
    subject = forms.CharField(label=_("Subject"), max_length=500)
    body = _message_field()
    # The honeypot (see portal.limits): hidden from people, filled by bots.
    website = forms.CharField(required=False, label=_("Leave this field empty"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields[HONEYPOT].widget.attrs.update({"tabindex": "-1", "autocomplete": "off"})
