"""Rule sets for the studio tests, stored through the import service (like the API)."""

from __future__ import annotations

from typing import Any

RULES = """version: 1
rules:
  - name: enterprise-first
    triggers: [created]
    conditions:
      all:
        - {field: organization.tier, op: is, value: enterprise}
    actions:
      - {type: set_priority, value: urgent}
  - name: urgent-to-tier2
    triggers: [created, updated]
    conditions:
      all:
        - {field: priority, op: is, value: urgent}
    actions:
      - {type: assign_team, team: Tier 2}
"""

#: RULES with a typo on line 7 (a field that does not exist)
TYPO = RULES.replace("field: organization.tier", "field: organisation.tier")
TYPO_LINE = 7

#: RULES plus a rule that tags invoices
MORE = (
    RULES
    + """  - name: tag-invoices
    triggers: [created]
    conditions:
      all:
        - {field: subject, op: contains, value: invoice}
    actions:
      - {type: add_tags, tags: [billing]}
"""
)


def store(yaml: str, author: Any = None, comment: str = "") -> Any:
    from flowdesk.automation import services

    return services.check_import_yaml(yaml, source="rules.yaml", author=author, comment=comment)


def editor_post(client: Any, action: str, yaml: str, **fields: Any) -> Any:
    data = {
        "yaml": yaml,
        "source": "rules.yaml",
        "comment": "",
        "action": action,
        "candidate": "editor",
        "event_kind": "created",
        "days": "30",
        **fields,
    }
    return client.post("/studio/edit", data)
