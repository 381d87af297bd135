from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "flowdesk.core"
    label = "flowdesk_core"
