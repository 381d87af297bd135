"""The YAML editor: validate (the import's messages, placed next to their lines), save (an
import, all or nothing, as a new version), dry run (the editor's unsaved text or the active set,
on a stored ticket or a pasted snapshot) and backtest. Every button posts the same form, so the
text stays in the editor whatever happens; only "save" writes, through the import service."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext

from flowdesk.accounts.models import User
from flowdesk.automation import services
from flowdesk.automation.backtest import backtest
from flowdesk.automation.dryrun import candidate_ruleset as candidate
from flowdesk.automation.dryrun import check_dry_run_rate, dry_run
from flowdesk.automation.textreport import explanation_lines
from flowdesk.core.clock import utcnow
from flowdesk.core.errors import FlowdeskError, NotFound, ValidationFailed
from flowdesk.engine import RuleSetError
from flowdesk.engine.explain import summarise
from flowdesk.studio.forms import EditorForm
from flowdesk.studio.gate import agent_view, require_admin
from flowdesk.tickets.selectors import access_ticket_by_id

#: the editor's text before any rule set exists: one rule to start from
STARTER = """version: 1
rules:
  - name: example  # a rule: trigger -> conditions -> actions
    triggers: [created]
    conditions: {any: [{field: subject, op: contains, value: refund}]}
    actions: [{type: set_priority, value: high}]
"""


def _issue(issue: Any) -> dict[str, Any]:
    return {**issue.to_dict(), "text": str(issue)}


def listing(text: str, issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The text's lines, numbered, each with the problems (errors and warnings) located there."""
    at: dict[int, list[dict[str, Any]]] = {}
    for issue in issues:
        if issue.get("line"):
            at.setdefault(int(issue["line"]), []).append(issue)
    lines = text.splitlines() or [""]
    return [{"number": i, "text": line, "issues": at.get(i, [])} for i, line in enumerate(lines, 1)]


def _initial_text(request: HttpRequest) -> tuple[str, str]:
    number = request.GET.get("from")
    version = (
        services.get_version(int(number))
        if number and number.isdigit()
        else services.active_version()
    )
    if version is None:
        return STARTER, "rules.yaml"
    # What the admin wrote (comments and all) when it was sent as YAML, else the export.
    text = version.source_text or services.export_yaml(version.number)
    return text, version.source_name or "rules.yaml"


@agent_view
def editor_page(request: HttpRequest, user: User) -> HttpResponse:
    if request.method != "POST":
        text, source = _initial_text(request)
        form = EditorForm(initial={"yaml": text, "source": source})
        return _render(request, user, form, text)
    form = EditorForm(request.POST)
    text = request.POST.get("yaml", "")
    if not form.is_valid():
        return _render(request, user, form, text, status=422)
    data = form.cleaned_data
    action = data["action"]
    try:
        if action == "save":
            require_admin(user, gettext("save a rule set"))
            version = services.check_import_yaml(
                text, source=data["source"], author=user, comment=data["comment"]
            )
            messages.success(
                request,
                gettext("Saved as version %(number)s.") % {"number": version.number},
                "studio",
            )
            return redirect("studio:ruleset")
        if action == "validate":
            ruleset = services.validate_yaml(text, data["source"])
            warnings = services.rule_warnings(ruleset, yaml_text=text, source=data["source"])
            return _render(request, user, form, text, valid=len(ruleset.rules), warnings=warnings)
        if action == "dryrun":
            return _render(request, user, form, text, dry=_dry_run(user, text, data))
        require_admin(user, gettext("run a backtest"))
        return _render(request, user, form, text, backtest=_backtest(user, text, data))
    except RuleSetError as exc:
        issues = [_issue(i) for i in exc.issues]
        return _render(request, user, form, text, issues=issues, status=422)
    except ValidationFailed as exc:
        failure = [f"{e.field}: {e.message}" for e in exc.errors]
        return _render(request, user, form, text, failure=failure, status=422)
    except NotFound as exc:
        return _render(request, user, form, text, failure=[str(exc)], status=404)
    except FlowdeskError as exc:  # the dry-run rate limit (429), a refused action (403)
        return _render(request, user, form, text, failure=[str(exc)], status=exc.status)


def _dry_run(user: User, text: str, data: dict[str, Any]) -> dict[str, Any]:
    """The API's dry run, rate limit included: nothing is written."""
    check_dry_run_rate(user, utcnow())
    ticket = access_ticket_by_id(user, data["ticket_id"]) if data["ticket_id"] else None
    result = summarise(
        dry_run(
            ticket=ticket,
            snapshot=data["snapshot"] if ticket is None else None,
            event={"kind": data["event_kind"]},
            yaml_text=text if data["candidate"] == "editor" else None,
            definition=None,
        )
    )
    fired = sorted(
        (r for r in result["rules"] if r["fired"]), key=lambda r: r["pass_no"] or 0
    )  # stable: rule order within a pass
    return {
        **result,
        "fired_rules": fired,
        "misses": [r for r in result["rules"] if not r["fired"]],
        "lines": list(explanation_lines(result)),
        "ticket": ticket,
    }


def _backtest(user: User, text: str, data: dict[str, Any]) -> dict[str, Any]:
    check_dry_run_rate(user, utcnow())  # a backtest counts as a dry run, as in the API
    yaml_text = text if data["candidate"] == "editor" else None
    ruleset, label = candidate(yaml_text, None, data["source"])
    return backtest(
        ruleset,
        days=data["days"] or 30,
        now=utcnow(),
        rule=data["rule"] or None,
        label=label,
    )


def _render(
    request: HttpRequest,
    user: User,
    form: EditorForm,
    text: str,
    *,
    status: int = 200,
    issues: list[dict[str, Any]] | None = None,
    warnings: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> HttpResponse:
    problems = (issues or []) + (warnings or [])
    context = {
        "form": form,
        "text": text,
        "is_admin": user.is_admin,
        "active": services.active_version(),
        "issues": issues or [],
        "warnings": warnings or [],
        "listing": listing(text, problems) if problems else [],
        **extra,
    }
    return render(request, "studio/editor.html", context, status=status)
