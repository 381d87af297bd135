from __future__ import annotations

from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "flowdesk.mail"
    label = "mail"
    verbose_name = "Mail"

    def ready(self) -> None:
        from flowdesk.mail import outgoing

        outgoing.register()
