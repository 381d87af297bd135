from django.apps import AppConfig


class StudioConfig(AppConfig):
    """The admins' rule studio pages (/studio/) and the themed Django admin (/studio/admin/)."""

    name = "flowdesk.studio"
    label = "studio"
    verbose_name = "Directory"
