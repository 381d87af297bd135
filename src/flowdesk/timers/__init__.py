"""Durable timers: one row per (ticket, purpose), moved when the ticket's state changes, claimed
and fired by the workers (docs/sla.md, "Timers")."""
