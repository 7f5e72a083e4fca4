"""The program settings form: targets, working hours, holidays and the bounty table, field by field.

The model keeps these as JSON (see ``reports.models.Program``); people edit them as plain inputs.
This form turns one into the other, and ``reports.services.programs.check_terms`` judges the result,
so the rules live in one place and its messages appear beside the fields here.
"""

from __future__ import annotations

from copy import copy
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from bastion.accounts.models import validate_time_zone
from bastion.reports.models import Asset, Program, Severity
from bastion.reports.services.programs import check_terms

WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
CLOCKS = ["first_response", "first_response_bounty", "triage", "bounty_decision"]
SEVERITIES = [s for s in Severity if s != Severity.NONE] + [Severity.NONE]


def _hours(label: str) -> forms.IntegerField:
    return forms.IntegerField(
        label=label, min_value=1, required=True, widget=forms.NumberInput(attrs={"size": 6})
    )


class ProgramForm(forms.ModelForm):
    """One program's terms, as inputs a person can fill in."""

    business_hours_only = forms.BooleanField(
        label="Count business hours only", required=False, help_text="Off: targets run in calendar hours."
    )
    days = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Working days",
    )
    start = forms.CharField(label="Day starts", required=False, initial="09:00", max_length=5)
    end = forms.CharField(label="Day ends", required=False, initial="17:00", max_length=5)
    holidays_text = forms.CharField(
        label="Holidays",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One date a line: 2026-12-25.",
    )

    class Meta:
        model = Program
        fields = [
            "name",
            "slug",
            "offers_bounty",
            "currency",
            "approval_threshold",
            "time_zone",
            "needs_info_warn_hours",
            "needs_info_close_hours",
            "auto_assign",
            "publish_stats",
        ]
        labels = {
            "needs_info_warn_hours": "Needs more info: warn the reporter after (hours)",
            "needs_info_close_hours": "Needs more info: close after (hours)",
            "publish_stats": "Publish response figures at /security/stats",
            "auto_assign": "Assign new reports round-robin to the triagers on duty",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        program = self.instance
        for clock in CLOCKS:
            self.fields[f"target_{clock}"] = _hours(clock.replace("_", " ").capitalize() + " (hours)")
            self.initial[f"target_{clock}"] = int(program.target_hours(clock) or 0) or None
        for severity in SEVERITIES:
            name = f"target_resolution_{severity.value}"
            self.fields[name] = _hours(f"Resolution, {severity.label.lower()} (hours)")
            self.initial[name] = int(program.target_hours("resolution", severity.value) or 0) or None
            for end in ("min", "max"):
                field = f"bounty_{severity.value}_{end}"
                self.fields[field] = forms.DecimalField(min_value=0, decimal_places=2, required=False)
                bounds = program.bounty_table.get(severity.value)
                self.initial[field] = bounds[0 if end == "min" else 1] if bounds else None
        hours = program.business_hours or {}
        self.initial.setdefault("business_hours_only", bool(hours))
        self.initial["days"] = hours.get("days", [0, 1, 2, 3, 4])
        self.initial["start"], self.initial["end"] = hours.get("start", "09:00"), hours.get("end", "17:00")
        self.initial["holidays_text"] = "\n".join(program.holidays)

    def clean_time_zone(self) -> str:
        value = self.cleaned_data["time_zone"]
        validate_time_zone(value)
        return str(value)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        program = self.instance
        targets: dict[str, object] = {clock: cleaned[f"target_{clock}"] for clock in CLOCKS}
        targets["resolution"] = {s.value: cleaned[f"target_resolution_{s.value}"] for s in SEVERITIES}
        program.targets = targets
        program.business_hours = (
            {"days": sorted(cleaned["days"]), "start": cleaned["start"], "end": cleaned["end"]}
            if cleaned["business_hours_only"]
            else None
        )
        program.holidays = [line.strip() for line in cleaned["holidays_text"].splitlines() if line.strip()]
        table = {}
        for severity in SEVERITIES:
            low, high = cleaned[f"bounty_{severity.value}_min"], cleaned[f"bounty_{severity.value}_max"]
            if low is not None or high is not None:
                table[severity.value] = [
                    str(low if low is not None else 0),
                    str(high if high is not None else low),
                ]
        program.bounty_table = table
        # ModelForm copies the plain fields onto the instance only after clean(): judge a copy
        # that has them already, so check_terms sees the terms as they will be saved.
        candidate = copy(program)
        for name in self._meta.fields or []:
            if name in cleaned:
                setattr(candidate, name, cleaned[name])
        try:
            check_terms(candidate)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                target = field if field in self.fields else None
                self.add_error(target, messages)
        return cleaned


class AssetForm(forms.ModelForm):
    """An asset: a name staff recognise, the program it belongs to, and whether it is retired."""

    class Meta:
        model = Asset
        fields = ["name", "program", "description", "archived"]
