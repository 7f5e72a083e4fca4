"""What a staff member may load: every triage view fetches its rows through these helpers first.

The rule is :mod:`bastion.reports.access`: triagers and admins see every report but the embargoed
ones they hold no grant on; viewers see nothing. A report outside the
user's scope is a 404, not a 403, so the answer does not confirm that a tracking ID exists.
The one exception is :func:`embargoed_from`, for the break-glass offer: a triager or admin may
learn that an embargoed report exists, since they may open it with a reason; a viewer never does.
"""

from __future__ import annotations

import uuid

from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from bastion.accounts.permissions import AnyUser, is_triager
from bastion.reports.access import hidden_report_ids, visible_report, visible_reports
from bastion.reports.identifiers import normalize_tracking_id
from bastion.reports.models import Attachment, Embargo, Message, Report, ReportQuerySet


def reports_for(user: AnyUser) -> ReportQuerySet:
    """The reports ``user`` may see (:func:`bastion.reports.access.visible_reports`)."""
    return visible_reports(user)


# The clear columns a list row shows: the inbox's (templates/triage/inbox.html) and the staff API's
# (api_schemas.row_of). A column missing here is loaded one query per row when read.
INBOX_COLUMNS = (
    *("id", "tracking_id", "status", "channel", "severity", "cvss_score", "cwe_id", "version"),
    *("received_at", "next_due_at", "breached_at", "deletion_requested_at", "assignee", "asset"),
)


def inbox_rows(user: AnyUser) -> ReportQuerySet:
    """:func:`reports_for`, with what an inbox row shows without opening anything: clear metadata.

    ``embargoed`` marks the rows under a running embargo (the user sees them because they are
    granted, or broke the glass), so the list says which reports must not leak.

    The message count and the has-files flag are correlated subqueries, not a join with GROUP BY:
    a GROUP BY makes SQLite aggregate (and sort) every matching report before it can stop at one
    page, while a subquery in the SELECT list runs only for the rows on the page. The assignee,
    asset and labels come along (one join, one prefetch) for the same reason: the page is small.
    """
    files = Attachment.objects.filter(report=OuterRef("pk"))
    embargoes = Embargo.objects.running(timezone.now()).filter(report=OuterRef("pk"))
    messages = (
        Message.objects.filter(report=OuterRef("pk"))
        .order_by()
        .values("report")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return (
        reports_for(user)
        # Only what a row shows: a page of 50 full rows costs more to turn into objects (sealed
        # blobs, a dozen dates each) than the query that finds them.
        .only(*INBOX_COLUMNS, "assignee__full_name", "assignee__email", "asset__name")
        .select_related("assignee", "asset")
        .prefetch_related("labels")
        .annotate(
            message_count=Coalesce(Subquery(messages, output_field=IntegerField()), 0),
            has_attachments=Exists(files),
            embargoed=Exists(embargoes),
        )
        .order_by("-received_at", "-id")
    )


def report_for(user: AnyUser, tracking_id: str) -> Report:
    """The report ``tracking_id`` if ``user`` may see it; Http404 otherwise."""
    report = visible_report(user, tracking_id)
    if report is None:
        raise Http404("No such report.")
    return report


def embargoed_from(user: AnyUser, tracking_id: str) -> Report | None:
    """The report ``tracking_id`` if only a running embargo keeps triager or admin ``user`` from it.

    None for anyone else (viewers, outsiders: their 404 must look like any other), for a report
    that does not exist, and for one the user may already see. The break-glass page is offered
    for exactly these reports.
    """
    normalized = normalize_tracking_id(tracking_id or "")
    if not is_triager(user) or normalized is None:
        return None
    hidden = Report.objects.filter(
        tracking_id=normalized, embargo__in=Embargo.objects.running(timezone.now())
    )
    return hidden.filter(pk__in=hidden_report_ids(user)).first()


def attachment_for(user: AnyUser, tracking_id: str, uid: uuid.UUID) -> Attachment:
    """File ``uid`` of report ``tracking_id`` if ``user`` may see that report; Http404 otherwise.

    Looked up within the report, so a file's uid under another report's tracking ID opens nothing.
    """
    report = report_for(user, tracking_id)
    attachment = get_object_or_404(Attachment.objects.select_related("message"), report=report, uid=uid)
    attachment.report = report  # the report row already loaded, with its key
    return attachment
