"""SLA policies and their clocks, and the stored business-hours calendars (docs/sla.md).

The clock arithmetic and the policy format are pure (``clocks.py``, ``policy.py``: no Django);
the models store calendars, policies, each ticket's clocks and the breaches.
"""
