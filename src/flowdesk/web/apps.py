from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "flowdesk.web"
    label = "web"
