"""flowdesk's pure automation engine: compiled, indexed trigger -> conditions -> actions rules.

Imports no Django, touches no database or clock (``now`` is an argument). See docs/automation.md.
"""

from . import routing_actions  # noqa: F401  (registers the routing actions)
from .actions import ACTIONS, Action, ActionContext, WorkingState
from .cascade import run_cascade
from .catalog import Catalog, FieldSpec, default_catalog
from .compile import CompiledRuleSet, compile_ruleset
from .conditions import CONDITION_OPERATORS, Operator
from .errors import Issue, RuleSetError
from .explain import Explanation, explain
from .lint import LintWarning, lint
from .schema import rule_schema
from .timers import next_due
from .tree import CompiledRule
from .triggers import TRIGGERS, Trigger
from .types import (
    CascadeResult,
    Conflict,
    Effect,
    Event,
    FiredRule,
    MessageInfo,
    RuleError,
    Snapshot,
)
from .yamlio import dump_ruleset_yaml, load_ruleset_yaml

__all__ = [
    "ACTIONS",
    "CONDITION_OPERATORS",
    "TRIGGERS",
    "Action",
    "ActionContext",
    "CascadeResult",
    "Catalog",
    "CompiledRule",
    "CompiledRuleSet",
    "Conflict",
    "Effect",
    "Event",
    "Explanation",
    "FieldSpec",
    "FiredRule",
    "Issue",
    "LintWarning",
    "MessageInfo",
    "Operator",
    "RuleError",
    "RuleSetError",
    "Snapshot",
    "Trigger",
    "WorkingState",
    "compile_ruleset",
    "default_catalog",
    "dump_ruleset_yaml",
    "explain",
    "lint",
    "load_ruleset_yaml",
    "next_due",
    "rule_schema",
    "run_cascade",
]
