"""The rule set page (active version, its rules, the version history), one version, restore,
the diff of two versions and the flowcharts. Reads and writes through the services the REST API
uses (``flowdesk.automation``), never through HTTP."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models.fields.json import KeyTransform
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext

from flowdesk.accounts.models import User

# The API's database-side rule count: a version's definition (megabytes at 50,000 rules) is
# never read just to count its rules.
from flowdesk.api.rules import _RuleCount
from flowdesk.automation import services
from flowdesk.automation.models import RuleSetVersion
from flowdesk.automation.studio import flowchart
from flowdesk.automation.versiondiff import version_diff
from flowdesk.core.errors import NotFound, ValidationFailed
from flowdesk.studio.gate import agent_view, require_admin

#: rules listed per page, versions per page of the history
RULES_PAGE = 100
VERSIONS_PAGE = 50


def _int(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _rules_page(version: RuleSetVersion, offset: int) -> dict[str, Any]:
    rules = version.definition.get("rules", [])
    shown = [
        {
            "name": r.get("name", ""),
            "enabled": r.get("enabled", True),
            "triggers": [
                t.get("type", "") if isinstance(t, dict) else str(t) for t in r.get("triggers", [])
            ],
            "description": r.get("description", ""),
        }
        for r in rules[offset : offset + RULES_PAGE]
    ]
    return {
        "rules": shown,
        "rule_count": len(rules),
        "enabled_count": sum(1 for r in rules if r.get("enabled", True)),
        "templates": list(version.definition.get("templates") or {}),
        "offset": offset,
        "next_offset": offset + RULES_PAGE if offset + RULES_PAGE < len(rules) else None,
        "prev_offset": max(0, offset - RULES_PAGE) if offset else None,
    }


def _history(before: int | None) -> dict[str, Any]:
    rows = (
        RuleSetVersion.objects.select_related("author")
        .defer("definition", "source_text")
        .annotate(rule_count=_RuleCount(KeyTransform("rules", "definition")))
    )
    if before is not None:
        rows = rows.filter(number__lt=before)
    page = list(rows[: VERSIONS_PAGE + 1])
    older = page[VERSIONS_PAGE - 1].number if len(page) > VERSIONS_PAGE else None
    return {"versions": page[:VERSIONS_PAGE], "older": older}


@agent_view
def ruleset_page(request: HttpRequest, user: User) -> HttpResponse:
    active = services.active_version()
    offset = max(0, _int(request.GET.get("offset")) or 0)
    context: dict[str, Any] = {
        "active": active,
        "is_admin": user.is_admin,
        **_history(_int(request.GET.get("before"))),
    }
    if active is not None:
        context.update(_rules_page(active, offset))
    return render(request, "studio/ruleset.html", context)


@agent_view
def version_page(request: HttpRequest, user: User, number: int) -> HttpResponse:
    version = services.get_version(number)
    active = services.active_version()
    offset = max(0, _int(request.GET.get("offset")) or 0)
    return render(
        request,
        "studio/version.html",
        {
            "version": version,
            "active": active,
            "is_admin": user.is_admin,
            "yaml": services.export_yaml(number),
            **_rules_page(version, offset),
        },
    )


@agent_view
def restore_page(request: HttpRequest, user: User, number: int) -> HttpResponse:
    """GET asks for confirmation; POST (CSRF-checked) stores version ``number`` again as the
    newest version, like ``POST /api/rules/versions/{n}/restore``."""
    require_admin(user, gettext("restore a rule-set version"))
    version = services.get_version(number)
    if request.method == "POST":
        restored = services.check_restore_version(number, author=user)
        text = gettext("Version %(number)s restored as version %(new)s.")
        messages.success(request, text % {"number": number, "new": restored.number}, "studio")
        return redirect("studio:ruleset")
    return render(
        request, "studio/restore.html", {"version": version, "active": services.active_version()}
    )


@agent_view
def diff_page(request: HttpRequest, user: User) -> HttpResponse:
    a, b = _int(request.GET.get("a")), _int(request.GET.get("b"))
    context: dict[str, Any] = {"a": a, "b": b}
    if a is not None and b is not None:
        old, new = services.get_version(a), services.get_version(b)
        result = version_diff(old, new)
        context.update(old=old, new=new, result=result, lines=_diff_lines(result["diff"]))
    elif request.GET:
        context["error"] = gettext("Give two version numbers.")
    return render(request, "studio/diff.html", context, status=422 if "error" in context else 200)


def _diff_lines(diff: str) -> list[tuple[str, str]]:
    """(css class, text) per line of a unified diff."""
    out = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "ctx"
        out.append((kind, line))
    return out


@agent_view
def flowchart_page(request: HttpRequest, user: User) -> HttpResponse:
    number = _int(request.GET.get("version"))
    rule = request.GET.get("rule") or None
    try:
        chart = flowchart(number, rule)
    except ValidationFailed as exc:  # the whole set is too large to draw: pick a rule
        return render(
            request, "studio/flowchart.html", {"error": str(exc), "rule": rule}, status=422
        )
    except NotFound as exc:
        if services.active_version() is not None or number is not None:
            raise
        return render(request, "studio/flowchart.html", {"error": str(exc)}, status=404)
    version = services.get_version(chart["version"])
    return render(
        request,
        "studio/flowchart.html",
        {
            "chart": chart,
            "version": version,
            "rule": rule,
            "rule_names": [n["rule"] for n in chart["nodes"]] if rule is None else [],
        },
    )
