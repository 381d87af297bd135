from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "flowdesk.portal"
    label = "portal"
    verbose_name = "Customer portal"
