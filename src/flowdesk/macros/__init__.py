"""Macros: canned replies and field changes an agent applies to a ticket in one update."""
