"""JSON Schema of the rule-set format, assembled from every registered handler's pydantic config.

Generated, never hand-written: registering a handler changes the schema; a test keeps
docs/rule-schema.json equal to ``rule_schema()``. Run ``python -m flowdesk.engine.schema``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .actions import ACTIONS
from .conditions import CONDITION_OPERATORS
from .triggers import TRIGGERS
from .vocabulary import BASE_FIELDS, HEADER_PREFIX

#: The field families beside the base fields (their keys come from the installation, or from
#: the ticket's mail for headers).
FIELD_FAMILIES = (
    "custom.<key>",
    "requester.<attr>",
    "organization.<attr>",
    HEADER_PREFIX + "<name>",
)


class TemplateModel(BaseModel):
    """A reply template; ``{{ ticket.subject }}``-style placeholders name snapshot fields."""

    model_config = ConfigDict(extra="forbid", title="Template")
    subject: str | None = Field(default=None, description="Reply subject.")
    body: str = Field(description="Reply body.")


def _object(
    defs: dict[str, Any], title: str, model: type[BaseModel], head: dict[str, Any], doc: str | None
) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(schema.pop("$defs", {}))
    props = {**head, **schema.get("properties", {})}
    required = [k for k in head if k != "field" or "field" in head] + schema.get("required", [])
    out: dict[str, Any] = {
        "type": "object",
        "title": title,
        "properties": props,
        "required": list(dict.fromkeys(required)),
        "additionalProperties": False,
    }
    if doc:
        out["description"] = " ".join(doc.split())
    return out


def rule_schema() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    trigger_objs = []
    for name, trig_cls in TRIGGERS.items():
        head = {"type": {"const": name}}
        obj = _object(defs, f"trigger {name}", trig_cls.Config, head, trig_cls.__doc__)
        defs[f"trigger.{name}"] = obj
        trigger_objs.append({"$ref": f"#/$defs/trigger.{name}"})
    defs["Trigger"] = {
        "oneOf": [
            {"enum": TRIGGERS.names(), "description": "shorthand: the trigger type"},
            *trigger_objs,
        ],
    }
    leaf_objs = []
    for name, op_cls in CONDITION_OPERATORS.items():
        head = {
            "field": {
                "type": "string",
                "description": "snapshot field, e.g. priority, source.domain or "
                "source.header.x-priority (x-fields, x-field-families)",
            },
            "op": {"const": name},
        }
        obj = _object(defs, f"condition {name}", op_cls.Config, head, op_cls.__doc__)
        obj["x-field-kinds"] = sorted(op_cls.kinds)
        defs[f"condition.{name}"] = obj
        leaf_objs.append({"$ref": f"#/$defs/condition.{name}"})
    groups = [
        {
            "type": "object",
            "title": f"group {g}",
            "properties": {
                g: {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Condition"}}
            },
            "required": [g],
            "additionalProperties": False,
        }
        for g in ("all", "any", "none")
    ]
    defs["Condition"] = {"oneOf": leaf_objs + groups}
    action_objs = []
    for name, act_cls in ACTIONS.items():
        obj = _object(
            defs, f"action {name}", act_cls.Config, {"type": {"const": name}}, act_cls.__doc__
        )
        defs[f"action.{name}"] = obj
        action_objs.append({"$ref": f"#/$defs/action.{name}"})
    defs["Action"] = {"oneOf": action_objs}
    defs["Template"] = _object(defs, "Template", TemplateModel, {}, TemplateModel.__doc__)
    defs["Rule"] = {
        "type": "object",
        "title": "Rule",
        "properties": {
            "name": {"type": "string", "minLength": 1, "description": "unique; the rule's id"},
            "description": {"type": "string"},
            "enabled": {"type": "boolean", "default": True},
            "triggers": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Trigger"}},
            "conditions": {"$ref": "#/$defs/Condition"},
            "actions": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Action"}},
        },
        "required": ["name", "triggers", "actions"],
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "flowdesk rule set",
        "type": "object",
        "properties": {
            "version": {"const": 1},
            "templates": {"type": "object", "additionalProperties": {"$ref": "#/$defs/Template"}},
            "rules": {"type": "array", "items": {"$ref": "#/$defs/Rule"}},
        },
        "required": ["rules"],
        "additionalProperties": False,
        "$defs": defs,
        "x-fields": {f.name: f.kind for f in BASE_FIELDS},
        "x-field-families": list(FIELD_FAMILIES),
    }


def schema_text() -> str:
    return json.dumps(rule_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(schema_text(), end="")
