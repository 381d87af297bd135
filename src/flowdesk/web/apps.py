from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "flowdesk.web"
    label = "web"

    def ready(self) -> None:
        # The search index follows every update through the ticket services' update hooks
        # (in the update's transaction); the services never import this package.
        from flowdesk.tickets.hooks import register_update_hook
        from flowdesk.web.search import index_update

        register_update_hook(index_update, "settle")
