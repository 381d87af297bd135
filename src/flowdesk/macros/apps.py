from django.apps import AppConfig


class MacrosConfig(AppConfig):
    name = "flowdesk.macros"
    label = "macros"
