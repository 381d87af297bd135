from __future__ import annotations

from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "flowdesk.chat"
    label = "chat"
    verbose_name = "Live chat"

    def ready(self) -> None:
        from flowdesk.chat import delivery

        delivery.register()
