"""The audit screen's filter form. Everything is optional; bad input becomes a form error."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent


class AuditFilterForm(forms.Form):
    """Narrow the audit list by actor, event, target and time window."""

    actor = forms.CharField(required=False, max_length=254, label="Actor contains")
    event = forms.ChoiceField(required=False, choices=[("", "Any event"), *Event.choices])
    target_type = forms.CharField(required=False, max_length=100, label="Target type")
    target_id = forms.CharField(required=False, max_length=100, label="Target id")
    occurred_from = forms.DateTimeField(
        required=False, label="From", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    occurred_to = forms.DateTimeField(
        required=False, label="To", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def clean(self) -> dict[str, Any]:
        """Refuse a window that ends before it starts."""
        cleaned = super().clean() or {}
        start, end = cleaned.get("occurred_from"), cleaned.get("occurred_to")
        if start and end and start > end:
            self.add_error("occurred_to", "The end of the window is before its start.")
        return cleaned

    def filter(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        """Apply the valid filters to ``events``. Call only after ``is_valid()``."""
        data = self.cleaned_data
        if data.get("actor"):
            events = events.filter(actor_label__icontains=data["actor"])
        if data.get("event"):
            events = events.filter(event=data["event"])
        if data.get("target_type"):
            events = events.filter(target_type=data["target_type"])
        if data.get("target_id"):
            events = events.filter(target_id=data["target_id"])
        if data.get("occurred_from"):
            events = events.filter(occurred_at__gte=data["occurred_from"])
        if data.get("occurred_to"):
            events = events.filter(occurred_at__lte=data["occurred_to"])
        return events

    def applied(self) -> dict[str, str]:
        """The filters in use, as plain strings: what the AUDIT_VIEWED row records."""
        applied: dict[str, str] = {}
        for name, value in self.cleaned_data.items():
            if value in (None, ""):
                continue
            applied[name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
        return applied
