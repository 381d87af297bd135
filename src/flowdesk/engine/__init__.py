"""flowdesk's pure automation engine: compiled, indexed trigger -> conditions -> actions rules.

Imports no Django, touches no database or clock (``now`` is an argument). See docs/automation.md.
"""

from . import (
    routing_actions,  # noqa: F401  (registers the routing actions)
    timetriggers,  # noqa: F401 (registers the time triggers)
)
from .actions import ACTIONS, Action, ActionContext, WorkingState
from .cascade import run_cascade
from .catalog import Catalog, FieldSpec, default_catalog
from .compile import CompiledRuleSet, compile_ruleset
from .conditions import CONDITION_OPERATORS, Operator
from .context import EngineContext
from .errors import Issue, RuleSetError
from .explain import Explanation, explain
from .lint import LintWarning, lint
from .schema import rule_schema
from .timers import TimePlan, after_timer, next_due, time_plan
from .tree import CompiledRule
from .triggers import TRIGGERS, TimeTrigger, Trigger
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
    "EngineContext",
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
    "TimePlan",
    "TimeTrigger",
    "Trigger",
    "WorkingState",
    "after_timer",
    "compile_ruleset",
    "default_catalog",
    "dump_ruleset_yaml",
    "explain",
    "lint",
    "load_ruleset_yaml",
    "next_due",
    "rule_schema",
    "run_cascade",
    "time_plan",
]
