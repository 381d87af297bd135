from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "flowdesk.outbox"
    label = "outbox"
