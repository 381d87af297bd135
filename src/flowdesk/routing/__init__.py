"""Routing: who gets a ticket (strategies over available agents with free capacity), return
timers that take a ticket back from an assignee who did not answer, and escalation paths.
See README.md and docs/routing.md."""
