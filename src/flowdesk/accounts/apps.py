from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "flowdesk.accounts"
    label = "accounts"

    def ready(self) -> None:
        # In every process that delivers mail (web or worker), not only where the URLs load.
        from flowdesk.accounts.password_reset import register

        register()
