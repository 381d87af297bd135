from django.apps import AppConfig


class TimersConfig(AppConfig):
    name = "flowdesk.timers"
    label = "timers"

    def ready(self) -> None:
        # A round of firings reads every ticket's timers at once (tickets.batch).
        from flowdesk.tickets.batch import register_preloader
        from flowdesk.timers.services import preload_timers

        register_preloader(preload_timers)
