from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "flowdesk.automation"
    label = "automation"

    def ready(self) -> None:
        # The ticket services call automation through this hook; they never import it.
        from flowdesk.automation.runner import arm_time_rules, preload_ruleset, run_automation
        from flowdesk.tickets.batch import register_preloader
        from flowdesk.tickets.hooks import register_update_hook

        register_update_hook(run_automation)
        register_update_hook(arm_time_rules, "arm")
        register_preloader(preload_ruleset)
