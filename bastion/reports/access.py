"""Who may see which report: the one rule every staff-facing app loads reports through.

Triagers and admins see every report, except that a running embargo narrows a report to the staff
granted on it (or who broke the glass, for a while). Viewers see nothing. The rule lives here, in
``reports``, because triage, disclosure and the staff API all ask it and may not import one another.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from bastion.accounts.models import User
from bastion.accounts.permissions import AnyUser, is_triager
from bastion.reports.models import AccessGrant, Embargo, Report, ReportQuerySet


def visible_reports(user: AnyUser) -> ReportQuerySet:
    """The reports ``user`` may see: none for non-triagers; embargoed ones only with a grant in force."""
    if not is_triager(user) or not isinstance(user, User):
        return Report.objects.none()
    now = timezone.now()
    embargoed = Embargo.objects.running(now).values("report")
    granted = AccessGrant.objects.in_force(now).filter(user=user).values("report")
    return Report.objects.exclude(Q(pk__in=embargoed) & ~Q(pk__in=granted))


def may_see(user: AnyUser, report: Report) -> bool:
    """Whether ``user`` may see ``report`` (the same rule as :func:`visible_reports`, for one row)."""
    return visible_reports(user).filter(pk=report.pk).exists()
