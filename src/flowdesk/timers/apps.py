from django.apps import AppConfig


class TimersConfig(AppConfig):
    name = "flowdesk.timers"
    label = "timers"
