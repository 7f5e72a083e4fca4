"""Template helpers for the staff pages: ages, status labels, Markdown, and the dashboard counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone
from django.utils.safestring import SafeString

from bastion.lib.markdown import render_markdown
from bastion.reports.services.backups import BackupHealth, backup_health
from bastion.reports.workflow import CLOSED, Status
from bastion.triage.access import reports_for

register = template.Library()

MINUTE, HOUR, DAY = 60, 3600, 86400


@register.filter
def age(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago ``moment`` was, in the inbox's short form: "5 min", "3 h", "2 d"."""
    if moment is None:
        return ""
    seconds = max(0, int(((now or timezone.now()) - moment).total_seconds()))
    if seconds < HOUR:
        return f"{seconds // MINUTE} min"
    # Hours up to two days: "30 h" says more than "1 d" when a 24 h response clock is running.
    if seconds < 2 * DAY:
        return f"{seconds // HOUR} h"
    return f"{seconds // DAY} d"


@register.filter
def status_label(value: str) -> str:
    """The human label of a stored status value (the value itself if it is not one)."""
    try:
        return str(Status(value).label)
    except ValueError:
        return value


@register.filter
def markdown(text: str) -> SafeString:
    """Untrusted Markdown as sanitised HTML; headings start at h4, below the page's sections."""
    return render_markdown(text or "", top_heading=4)


@register.simple_tag
def inbox_counts(user: Any) -> dict[str, int]:
    """How many reports ``user`` may see are new, open, and awaiting a deletion decision.

    Counts only: nothing is opened, so nothing here is a read of a report.
    """
    visible = reports_for(user)
    return {
        "new": visible.filter(status=Status.NEW).count(),
        "open": visible.exclude(status__in=CLOSED).count(),
        "deletion_requested": visible.filter(deletion_requested_at__isnull=False).count(),
    }


@register.simple_tag
def backup_status() -> BackupHealth:
    """The backups' health for the admins' dashboard card: the newest verified backup and what is wrong."""
    return backup_health()
