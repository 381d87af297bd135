from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "flowdesk.accounts"
    label = "accounts"
