"""Rule sets: active version, import (validated whole), versions, restore, schema, dry run, and
the rule studio's flowchart, version diff and backtest."""

from __future__ import annotations

from typing import Any

from django.db.models import Func, IntegerField
from django.db.models.fields.json import KeyTransform
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Field, Query, Router, Status

from flowdesk.accounts.models import User
from flowdesk.api.auth import require_admin, require_agent
from flowdesk.api.schemas import (
    BODY_ERRORS,
    DryRunIn,
    RequestIn,
    RulePageQuery,
    RuleSetImportPageOut,
    RuleSetIn,
    RuleSetPageOut,
    RuleSetValidPageOut,
    RuleSetVersionSummary,
    errors,
)
from flowdesk.automation import services
from flowdesk.automation.backtest import DAYS_MAX, DEFAULT_LIMIT, LIMIT_MAX, SAMPLE_MAX, backtest
from flowdesk.automation.dryrun import (
    DryRunRateLimited,
    candidate_ruleset,
    check_dry_run_rate,
    dry_run,
)
from flowdesk.automation.models import RuleSetVersion
from flowdesk.automation.studio import flowchart
from flowdesk.automation.versiondiff import version_diff
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FieldError, NotFound, ValidationFailed
from flowdesk.engine import CompiledRuleSet, dump_ruleset_yaml, rule_schema
from flowdesk.engine.explain import summarise
from flowdesk.tickets.selectors import access_ticket_by_id

router = Router(tags=["rules"])


#: rules per page when the client does not say
DEFAULT_PAGE = 50
#: warnings an import or a validation answers (50,000 generated rules had 1.5 MB of them)
IMPORT_WARNINGS = 100


class _RuleCount(Func):
    """The number of rules in a stored definition, counted by the database (no definition is
    sent to Python for it)."""

    function = "JSON_ARRAY_LENGTH"
    output_field = IntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="JSONB_ARRAY_LENGTH", **extra)


def _meta(v: RuleSetVersion, rule_count: int) -> dict[str, Any]:
    return {
        "number": v.number,
        "author": v.author.email if v.author else None,
        "comment": v.comment,
        "source_name": v.source_name,
        "restored_from": v.restored_from,
        "created_at": v.created_at,
        "rule_count": rule_count,
    }


def version_page(
    v: RuleSetVersion, *, limit: int = DEFAULT_PAGE, offset: int = 0, full: bool = False
) -> dict[str, Any]:
    """A version's summary and one page of its rules (names, triggers); with ``full`` also the
    whole definition and its YAML."""
    definition = v.definition
    rules = definition.get("rules", [])
    trigger_counts: dict[str, int] = {}
    for rule in rules:
        for trigger in rule.get("triggers", []):
            kind = trigger.get("type", "") if isinstance(trigger, dict) else str(trigger)
            trigger_counts[kind] = trigger_counts.get(kind, 0) + 1
    out = {
        **_meta(v, len(rules)),
        "enabled_count": sum(1 for r in rules if r.get("enabled", True)),
        "templates": list(definition.get("templates") or {}),
        "trigger_counts": trigger_counts,
        "limit": limit,
        "offset": offset,
        "rules": [
            {
                "name": r.get("name", ""),
                "enabled": r.get("enabled", True),
                "triggers": r.get("triggers", []),
            }
            for r in rules[offset : offset + limit]
        ],
    }
    if full:
        out["definition"] = definition
        out["yaml"] = dump_ruleset_yaml(definition)
    return out


def compiled_page(v: RuleSetVersion, ruleset: CompiledRuleSet) -> dict[str, Any]:
    """``version_page(v)`` of a version whose compiled set is at hand, answered from it: the same
    answer without reading the stored definition back (at 50,000 rules as large as the compiled
    set itself, and an import or a restore has just written it)."""
    rules = ruleset.rules
    trigger_counts: dict[str, int] = {}
    for rule in rules:
        for trigger in rule.triggers:
            trigger_counts[trigger.name] = trigger_counts.get(trigger.name, 0) + 1
    return {
        **_meta(v, len(rules)),
        "enabled_count": sum(1 for r in rules if r.enabled),
        "templates": list(ruleset.templates),
        "trigger_counts": trigger_counts,
        "limit": DEFAULT_PAGE,
        "offset": 0,
        "rules": [
            {"name": r.name, "enabled": r.enabled, "triggers": [t.normalised() for t in r.triggers]}
            for r in rules[:DEFAULT_PAGE]
        ],
    }


def _rate_limited(user: User) -> HttpResponse | None:
    """429 with Retry-After past the per-user dry-run limit (backtests count as dry runs)."""
    try:
        check_dry_run_rate(user, utcnow())
    except DryRunRateLimited as exc:
        return JsonResponse(
            exc.as_dict(), status=429, headers={"Retry-After": str(exc.retry_after)}
        )
    return None


class FlowchartQuery(RequestIn):
    version: int | None = Field(None, description="a version number (default: the active one)")
    rule: str | None = Field(None, max_length=200, description="one rule (default: the set)")


class BacktestIn(RequestIn):
    yaml: str | None = Field(None, description="A candidate rule set; default: the active one")
    definition: dict[str, Any] | None = Field(None, description="...or as a JSON object")
    source: str = Field("backtest", max_length=300, description="named in validation errors")
    days: int = Field(30, ge=1, le=DAYS_MAX, description="the window: the last N days")
    rule: str | None = Field(None, max_length=200, description="report this rule only")
    limit: int = Field(
        DEFAULT_LIMIT, ge=1, le=LIMIT_MAX, description="updates scanned at most (newest first)"
    )
    sample: int = Field(10, ge=0, le=SAMPLE_MAX, description="update references kept per list")


def _one_source(payload: RuleSetIn | DryRunIn | BacktestIn) -> None:
    if payload.yaml is not None and payload.definition is not None:
        raise ValidationFailed([FieldError("yaml", "send either yaml or definition, not both")])


@router.get(
    "",
    response={200: RuleSetPageOut, **errors(401, 403, 404, 422)},
    summary="The active rule set: its summary and a page of rules (full=true: all of it)",
)
def active(request: HttpRequest, page: Query[RulePageQuery]) -> dict[str, Any]:
    require_agent(request)
    version = services.active_version()
    if version is None:
        raise NotFound("no rule set has been imported yet")
    return version_page(version, limit=page.limit, offset=page.offset, full=page.full)


@router.get(
    "/export",
    response={200: str, **errors(401, 403, 404, 422)},
    summary="A version (default: the active one) as YAML text",
)
def export(request: HttpRequest, version: int | None = None) -> HttpResponse:
    require_agent(request)
    return HttpResponse(
        services.export_yaml(version), content_type="application/yaml; charset=utf-8"
    )


@router.post(
    "",
    response={201: RuleSetImportPageOut, **errors(401, 403, *BODY_ERRORS, rules=True)},
    summary="Import a rule set (all or nothing) as the new active version",
)
def import_rules(request: HttpRequest, payload: RuleSetIn) -> Status[Any]:
    user = require_admin(request)
    _one_source(payload)
    if payload.yaml is not None:
        version = services.check_import_yaml(
            payload.yaml, source=payload.source, author=user, comment=payload.comment
        )
    elif payload.definition is not None:
        # Handed over: emptied once compiled, so it is not kept beside the compiled set.
        version = services.check_import_definition(
            payload.definition,
            source=payload.source,
            author=user,
            comment=payload.comment,
            consume=True,
        )
    else:
        raise ValidationFailed([FieldError("yaml", "send the rule set as yaml or definition")])
    ruleset = services.compiled_version(version)
    warnings = services.rule_warnings(ruleset, yaml_text=payload.yaml, source=payload.source)
    return Status(
        201,
        {
            **compiled_page(version, ruleset),
            "warnings": warnings[:IMPORT_WARNINGS],
            "warning_count": len(warnings),
        },
    )


@router.post(
    "/validate",
    response={200: RuleSetValidPageOut, **errors(401, 403, *BODY_ERRORS, rules=True)},
    summary="Validate a rule set without storing it",
)
def validate(request: HttpRequest, payload: RuleSetIn) -> dict[str, Any]:
    require_agent(request)
    _one_source(payload)
    if payload.yaml is not None:
        ruleset = services.validate_yaml(payload.yaml, payload.source)
    elif payload.definition is not None:
        ruleset = services.validate_definition(payload.definition, payload.source, consume=True)
    else:
        raise ValidationFailed([FieldError("yaml", "send the rule set as yaml or definition")])
    # Static checks (docs/automation.md): reported, never blocking.
    warnings = services.rule_warnings(ruleset, yaml_text=payload.yaml, source=payload.source)
    return {
        "valid": True,
        "rule_count": len(ruleset.rules),
        "rules": ruleset.names[:DEFAULT_PAGE],
        "warnings": warnings[:IMPORT_WARNINGS],
        "warning_count": len(warnings),
    }


@router.get(
    "/versions",
    response={200: list[RuleSetVersionSummary], **errors(401, 403)},
    summary="Every stored version (newest first), with its number of rules",
)
def versions(request: HttpRequest) -> list[dict[str, Any]]:
    require_agent(request)
    rows = (
        RuleSetVersion.objects.select_related("author")
        .defer("definition", "source_text")
        .annotate(rule_count=_RuleCount(KeyTransform("rules", "definition")))
    )
    return [_meta(v, v.rule_count or 0) for v in rows]


@router.get(
    "/versions/{number}",
    response={200: RuleSetPageOut, **errors(401, 403, 404, 422)},
    summary="One version: its summary and a page of rules (full=true: all of it)",
)
def version(request: HttpRequest, number: int, page: Query[RulePageQuery]) -> dict[str, Any]:
    require_agent(request)
    return version_page(
        services.get_version(number), limit=page.limit, offset=page.offset, full=page.full
    )


@router.post(
    "/versions/{number}/restore",
    response={201: RuleSetPageOut, **errors(401, 403, 404, 422, rules=True)},
    summary="Make an earlier version active again (stored as a new version)",
)
def restore(request: HttpRequest, number: int) -> Status[Any]:
    user = require_admin(request)
    version = services.check_restore_version(number, author=user)
    return Status(201, compiled_page(version, services.compiled_version(version)))


@router.get("/schema", summary="JSON Schema of the rule-set format", auth=None)
def schema(request: HttpRequest) -> dict[str, Any]:
    return rule_schema()


@router.post(
    "/dry-run",
    response={200: dict[str, Any], **errors(401, 403, 404, 429, *BODY_ERRORS, rules=True)},
    summary="Evaluate rules against a ticket without changing anything",
    description="Rate-limited per user (FLOWDESK_DRY_RUN_PER_MINUTE, default 30 a minute): "
    "over it, 429 with a Retry-After header (seconds).",
)
def dry_run_view(
    request: HttpRequest, payload: DryRunIn, full: bool = False
) -> dict[str, Any] | HttpResponse:
    """The explanation is summarised (fired rules, closest misses, counts) unless full=true."""
    user = require_agent(request)
    if (limited := _rate_limited(user)) is not None:
        return limited
    _one_source(payload)
    if (payload.ticket_id is None) == (payload.snapshot is None):
        raise ValidationFailed(
            [FieldError("ticket_id", "give exactly one of ticket_id or snapshot")]
        )
    ticket = access_ticket_by_id(user, payload.ticket_id) if payload.ticket_id is not None else None
    result = dry_run(
        ticket=ticket,
        snapshot=payload.snapshot,
        event=payload.event,
        yaml_text=payload.yaml,
        definition=payload.definition,
    )
    return result if full else summarise(result)


@router.get(
    "/flowchart",
    response={200: dict[str, Any], **errors(401, 403, 404, 422)},
    summary="A version's rules (or one rule) as a mermaid flowchart and as nodes and edges",
)
def flowchart_view(request: HttpRequest, query: Query[FlowchartQuery]) -> dict[str, Any]:
    require_agent(request)
    return flowchart(query.version, query.rule)


@router.get(
    "/versions/{a}/diff/{b}",
    response={200: dict[str, Any], **errors(401, 403, 404, 422)},
    summary="What changed from version a to version b: a unified diff and a summary by rule",
)
def diff_view(request: HttpRequest, a: int, b: int, context: int = 3) -> dict[str, Any]:
    require_agent(request)
    if not 0 <= context <= 100:
        raise ValidationFailed([FieldError("context", "must be between 0 and 100")])
    old, new = services.get_version(a), services.get_version(b)
    return {
        "from": _meta(old, len(old.definition.get("rules", []))),
        "to": _meta(new, len(new.definition.get("rules", []))),
        **version_diff(old, new, context=context),
    }


@router.post(
    "/backtest",
    response={200: dict[str, Any], **errors(401, 403, 404, 429, *BODY_ERRORS, rules=True)},
    summary="Where a candidate rule set (or one rule) would have fired over the stored updates",
    description="Admins. Runs the candidate (default: the active set) on the engine input "
    "stored with each update of the last `days` days, newest first, at most `limit` updates, "
    "and compares with the rule_fired events of the same updates. Counts as a dry run for "
    "the rate limit (FLOWDESK_DRY_RUN_PER_MINUTE).",
)
def backtest_view(request: HttpRequest, payload: BacktestIn) -> dict[str, Any] | HttpResponse:
    user = require_admin(request)
    if (limited := _rate_limited(user)) is not None:
        return limited
    _one_source(payload)
    ruleset, label = candidate_ruleset(payload.yaml, payload.definition, payload.source)
    return backtest(
        ruleset,
        days=payload.days,
        now=utcnow(),
        rule=payload.rule,
        limit=payload.limit,
        sample=payload.sample,
        label=label,
    )
