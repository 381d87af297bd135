from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "flowdesk.tickets"
    label = "tickets"
