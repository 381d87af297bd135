"""The rule studio's flowchart of a stored version: the whole set, or one rule with the rules
it cascades from and into (drawing is pure: flowdesk.engine.flowchart)."""

from __future__ import annotations

import difflib
from typing import Any

from flowdesk.automation.models import RuleSetVersion
from flowdesk.automation.services import compiled_number
from flowdesk.core.errors import FieldError, NotFound, ValidationFailed
from flowdesk.engine.flowchart import neighbours, rule_flowchart, ruleset_flowchart

#: rules up to which the whole set is drawn (beyond it a chart is no help: ask for one rule)
SET_CHART_MAX = 1_000


def flowchart(number: int | None, rule: str | None) -> dict[str, Any]:
    """{version, rule, mermaid, nodes, edges} (+ cascades_from / cascades_to for one rule)."""
    if number is None:
        number = RuleSetVersion.objects.order_by("-number").values_list("number", flat=True).first()
        if number is None:
            raise NotFound("no rule set has been imported yet")
    ruleset = compiled_number(number)
    head = {"version": number, "rule": rule}
    if rule is not None:
        if rule not in ruleset.by_name:
            close = difflib.get_close_matches(rule, ruleset.names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise NotFound(f"no rule named {rule!r} in v{number}{hint}")
        return {**head, **rule_flowchart(ruleset, rule).to_dict(), **neighbours(ruleset, rule)}
    if len(ruleset) > SET_CHART_MAX:
        raise ValidationFailed(
            [
                FieldError(
                    "rule",
                    f"v{number} has {len(ruleset):,} rules; the whole set is drawn up to "
                    f"{SET_CHART_MAX:,}: ask for one rule",
                )
            ]
        )
    return {**head, **ruleset_flowchart(ruleset).to_dict()}
