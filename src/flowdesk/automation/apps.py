from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "flowdesk.automation"
    label = "automation"

    def ready(self) -> None:
        # The ticket services call automation through this hook; they never import it.
        from flowdesk.automation.runner import arm_time_rules, run_automation
        from flowdesk.tickets.hooks import register_update_hook

        register_update_hook(run_automation)
        register_update_hook(arm_time_rules, "arm")
