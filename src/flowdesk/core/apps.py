from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "flowdesk.core"
    label = "flowdesk_core"

    def ready(self) -> None:
        from flowdesk.core.i18n import register_languages

        register_languages()  # Filipino: Django ships no locale of its own for it
