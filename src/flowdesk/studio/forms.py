"""The editor's one form: the YAML text and what to do with it (validate, save, dry run,
backtest). One form, so every button keeps the unsaved text."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from flowdesk.automation.backtest import DAYS_MAX
from flowdesk.automation.dryrun import EVENT_KINDS

ACTIONS = ("validate", "save", "dryrun", "backtest")
CANDIDATES = (
    ("editor", _("the YAML in the editor (unsaved)")),
    ("active", _("the active version")),
)


class EditorForm(forms.Form):
    yaml = forms.CharField(
        label=_("Rule set (YAML)"),
        required=False,
        strip=False,
        widget=forms.Textarea(
            attrs={"rows": 28, "spellcheck": "false", "wrap": "off", "class": "code"}
        ),
    )
    source = forms.CharField(label=_("File name"), max_length=300, initial="rules.yaml")
    comment = forms.CharField(label=_("Comment"), max_length=500, required=False)
    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS], initial="validate")
    candidate = forms.ChoiceField(
        label=_("Rules to run"), choices=CANDIDATES, initial="editor", widget=forms.RadioSelect
    )
    ticket_id = forms.IntegerField(label=_("Ticket id"), required=False, min_value=1)
    snapshot = forms.CharField(
        label=_("…or a ticket snapshot (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "code"}),
    )
    event_kind = forms.ChoiceField(
        label=_("Event"), choices=[(k, k) for k in EVENT_KINDS], initial="created"
    )
    days = forms.IntegerField(
        label=_("Last N days"), min_value=1, max_value=DAYS_MAX, initial=30, required=False
    )
    rule = forms.CharField(label=_("Only this rule (optional)"), max_length=200, required=False)

    def clean_snapshot(self) -> dict[str, Any] | None:
        text = self.cleaned_data.get("snapshot", "").strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(gettext("not JSON: %(error)s") % {"error": exc}) from exc
        if not isinstance(value, dict):
            raise ValidationError(gettext("must be a JSON object"))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "dryrun" and (data.get("ticket_id") is None) == (
            data.get("snapshot") is None
        ):
            self.add_error("ticket_id", gettext("Give a ticket id or a snapshot (one of them)."))
        return data
