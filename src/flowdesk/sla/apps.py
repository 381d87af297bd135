from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "flowdesk.sla"
    label = "sla"
