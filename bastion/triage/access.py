"""What a staff member may load: every triage view fetches its rows through these helpers first.

Today the rule is by role (triagers and admins see every report, viewers nothing); grants per team
and embargoes will narrow :func:`reports_for` without any view changing. A report outside the
user's scope is a 404, not a 403, so the answer does not confirm that a tracking ID exists.
"""

from __future__ import annotations

import uuid

from django.db.models import Count, Exists, OuterRef
from django.shortcuts import get_object_or_404

from bastion.accounts.permissions import AnyUser, is_triager
from bastion.reports.models import Attachment, Report, ReportQuerySet


def reports_for(user: AnyUser) -> ReportQuerySet:
    """The reports ``user`` may see (none for anyone but triagers and admins)."""
    if not is_triager(user):
        return Report.objects.none()
    return Report.objects.all()


def inbox_rows(user: AnyUser) -> ReportQuerySet:
    """:func:`reports_for`, with what the inbox shows without opening anything: counts in clear.

    The has-files flag is an EXISTS subquery, not a join, so the message count is not multiplied
    by the number of files.
    """
    files = Attachment.objects.filter(report=OuterRef("pk"))
    # Newest first, said again: a GROUP BY query drops the model's default ordering.
    return (
        reports_for(user)
        .annotate(message_count=Count("messages", distinct=True), has_attachments=Exists(files))
        .order_by("-received_at", "-id")
    )


def report_for(user: AnyUser, tracking_id: str) -> Report:
    """The report ``tracking_id`` if ``user`` may see it; Http404 otherwise."""
    rows = reports_for(user).select_related("reporter", "data_key")
    return get_object_or_404(rows, tracking_id=tracking_id)


def attachment_for(user: AnyUser, tracking_id: str, uid: uuid.UUID) -> Attachment:
    """File ``uid`` of report ``tracking_id`` if ``user`` may see that report; Http404 otherwise.

    Looked up within the report, so a file's uid under another report's tracking ID opens nothing.
    """
    report = report_for(user, tracking_id)
    attachment = get_object_or_404(Attachment.objects.select_related("message"), report=report, uid=uid)
    attachment.report = report  # the report row already loaded, with its key
    return attachment
