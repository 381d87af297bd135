"""Rule sets: active version, import (validated whole), versions, restore, schema, dry run."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Router, Status

from flowdesk.api.auth import require_admin, require_agent
from flowdesk.api.schemas import (
    BODY_ERRORS,
    DryRunIn,
    RuleSetImportOut,
    RuleSetIn,
    RuleSetValidOut,
    RuleSetVersionDetail,
    RuleSetVersionOut,
    errors,
)
from flowdesk.automation import services
from flowdesk.automation.dryrun import DryRunRateLimited, check_dry_run_rate, dry_run
from flowdesk.automation.models import RuleSetVersion
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FieldError, NotFound, ValidationFailed
from flowdesk.engine import dump_ruleset_yaml, rule_schema
from flowdesk.tickets.selectors import access_ticket_by_id

router = Router(tags=["rules"])


def version_out(v: RuleSetVersion, detail: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number": v.number,
        "author": v.author.email if v.author else None,
        "comment": v.comment,
        "source_name": v.source_name,
        "restored_from": v.restored_from,
        "created_at": v.created_at,
        "rules": [r.get("name", "") for r in v.definition.get("rules", [])],
    }
    if detail:
        out["definition"] = v.definition
        out["yaml"] = dump_ruleset_yaml(v.definition)
    return out


def _one_source(payload: RuleSetIn | DryRunIn) -> None:
    if payload.yaml is not None and payload.definition is not None:
        raise ValidationFailed([FieldError("yaml", "send either yaml or definition, not both")])


@router.get(
    "",
    response={200: RuleSetVersionDetail, **errors(401, 403, 404)},
    summary="The active rule set",
)
def active(request: HttpRequest) -> dict[str, Any]:
    require_agent(request)
    version = services.active_version()
    if version is None:
        raise NotFound("no rule set has been imported yet")
    return version_out(version, detail=True)


@router.post(
    "",
    response={201: RuleSetImportOut, **errors(401, 403, *BODY_ERRORS, rules=True)},
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
        version = services.check_import_definition(
            payload.definition, source=payload.source, author=user, comment=payload.comment
        )
    else:
        raise ValidationFailed([FieldError("yaml", "send the rule set as yaml or definition")])
    warnings = services.rule_warnings(
        services.compiled_version(version), yaml_text=payload.yaml, source=payload.source
    )
    return Status(201, {**version_out(version, detail=True), "warnings": warnings})


@router.post(
    "/validate",
    response={200: RuleSetValidOut, **errors(401, 403, *BODY_ERRORS, rules=True)},
    summary="Validate a rule set without storing it",
)
def validate(request: HttpRequest, payload: RuleSetIn) -> dict[str, Any]:
    require_agent(request)
    _one_source(payload)
    if payload.yaml is not None:
        ruleset = services.validate_yaml(payload.yaml, payload.source)
    elif payload.definition is not None:
        ruleset = services.validate_definition(payload.definition, payload.source)
    else:
        raise ValidationFailed([FieldError("yaml", "send the rule set as yaml or definition")])
    return {
        "valid": True,
        "rules": [r["name"] for r in ruleset.definition["rules"]],
        # Static checks (docs/automation.md): reported, never blocking.
        "warnings": services.rule_warnings(ruleset, yaml_text=payload.yaml, source=payload.source),
    }


@router.get(
    "/versions",
    response={200: list[RuleSetVersionOut], **errors(401, 403)},
    summary="Every stored version",
)
def versions(request: HttpRequest) -> list[dict[str, Any]]:
    require_agent(request)
    return [version_out(v) for v in RuleSetVersion.objects.select_related("author")]


@router.get(
    "/versions/{number}",
    response={200: RuleSetVersionDetail, **errors(401, 403, 404, 422)},
    summary="One version",
)
def version(request: HttpRequest, number: int) -> dict[str, Any]:
    require_agent(request)
    return version_out(services.get_version(number), detail=True)


@router.post(
    "/versions/{number}/restore",
    response={201: RuleSetVersionDetail, **errors(401, 403, 404, 422, rules=True)},
    summary="Make an earlier version active again (stored as a new version)",
)
def restore(request: HttpRequest, number: int) -> Status[Any]:
    user = require_admin(request)
    return Status(
        201, version_out(services.check_restore_version(number, author=user), detail=True)
    )


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
def dry_run_view(request: HttpRequest, payload: DryRunIn) -> dict[str, Any] | HttpResponse:
    user = require_agent(request)
    try:
        check_dry_run_rate(user, utcnow())
    except DryRunRateLimited as exc:
        return JsonResponse(
            exc.as_dict(), status=429, headers={"Retry-After": str(exc.retry_after)}
        )
    _one_source(payload)
    if (payload.ticket_id is None) == (payload.snapshot is None):
        raise ValidationFailed(
            [FieldError("ticket_id", "give exactly one of ticket_id or snapshot")]
        )
    ticket = access_ticket_by_id(user, payload.ticket_id) if payload.ticket_id is not None else None
    return dry_run(
        ticket=ticket,
        snapshot=payload.snapshot,
        event=payload.event,
        yaml_text=payload.yaml,
        definition=payload.definition,
    )
