from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "flowdesk.routing"
    label = "routing"

    def ready(self) -> None:
        # The ticket services call routing through the update hooks; automation applies the
        # routing effects through its EFFECTS registry. Neither imports this package.
        from flowdesk.automation.catalog import register_escalation_path_names
        from flowdesk.automation.effects import EFFECTS
        from flowdesk.routing.effects import AssignEffect, EscalateAlongEffect
        from flowdesk.routing.escalation import path_names
        from flowdesk.routing.hooks import routing_prepare, routing_settle
        from flowdesk.tickets.hooks import register_update_hook

        if "assign" not in EFFECTS:
            EFFECTS.add("assign", AssignEffect())
            EFFECTS.add("escalate_along", EscalateAlongEffect())
        register_update_hook(routing_prepare, "prepare")
        register_update_hook(routing_settle, "settle")
        register_escalation_path_names(path_names)
