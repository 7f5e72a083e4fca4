"""The reporter's way back in: portal links (magic links, no account) and "email me my links"."""

from __future__ import annotations

from django.db import transaction

from bastion.audit.events import Event
from bastion.audit.services import Actor, ActorArg, Target, record
from bastion.reports import identifiers
from bastion.reports.errors import PortalTokenRejected
from bastion.reports.links import portal_token, portal_url
from bastion.reports.models import Report, TimelineKind
from bastion.reports.services._shared import add_timeline, require_reporter_or_staff
from bastion.reports.tasks import email_portal_links
from bastion.worker.queue import enqueue_on_commit

# Compared against when the tracking ID is unknown, so that path costs the same HMAC and compare.
_NO_SUCH_REPORT = ("00000000-0000-0000-0000-000000000000", "-")

__all__ = [
    "portal_token",
    "portal_url",
    "report_for_portal_token",
    "reports_for_email",
    "rotate_portal_token",
    "send_portal_links",
]


def report_for_portal_token(tracking_id: str, token: str, *, ip: str | None = None) -> Report:
    """The report a portal link opens, or PortalTokenRejected (audited, for brute-force detection).

    The token is checked in constant time, against the current and the retired secret keys. Every
    refusal looks the same to the visitor (see PortalTokenRejected).
    """
    normalized = identifiers.normalize_tracking_id(tracking_id)
    report = Report.objects.filter(tracking_id=normalized).first() if normalized else None
    uid, nonce = (str(report.uid), report.portal_nonce) if report else _NO_SUCH_REPORT
    matches = identifiers.portal_token_matches(uid, nonce, token)
    if report is not None and matches:
        return report
    if not identifiers.PORTAL_TOKEN.fullmatch(token) or normalized is None:
        reason = "malformed"
    else:
        reason = "unknown" if report is None else "bad_token"
    # Never the token itself: even a wrong one may be a real link with a typo in it.
    target = report if report is not None else Target(type="reports.report")
    data = {"reason": reason}
    record(event=Event.PORTAL_TOKEN_REJECTED, actor=Actor.anonymous(), target=target, data=data, ip=ip)
    raise PortalTokenRejected(reason)


def rotate_portal_token(*, report: Report, actor: ActorArg, ip: str | None = None) -> str:
    """Give ``report`` a new portal link and revoke every earlier one; the new link.

    For a link that leaked (forwarded, in a shared inbox). The caller shows the new link to the
    reporter who asked, or the reporter gets it from "email me my links" when staff rotated it.
    """
    require_reporter_or_staff(actor, report)
    with transaction.atomic():
        report.portal_nonce = identifiers.new_nonce()
        report.save(update_fields=["portal_nonce"])
        add_timeline(report, TimelineKind.PORTAL_LINK_ROTATED, public=True)
        data = {"fields": ["portal_link"]}
        record(event=Event.REPORTER_UPDATED, actor=actor, target=report, data=data, ip=ip)
    return portal_url(report)


def reports_for_email(email: str) -> list[Report]:
    """The reports whose reporter gave ``email``, newest first (found by keyed digest, never in clear)."""
    return list(Report.objects.for_email(email).select_related("reporter"))


def send_portal_links(*, email: str, actor: ActorArg, ip: str | None = None) -> int:
    """Mail the portal links of every report sent from ``email`` to that address; how many there were.

    The caller must answer the same whatever the count ("if we know this address, a mail is on its
    way"): telling the visitor would reveal who has reported. Flood control (per address, per IP)
    belongs to intake, before this is called. The mail is enqueued after commit.
    """
    reports = reports_for_email(email)
    with transaction.atomic():
        record(event=Event.PORTAL_LINKS_SENT, actor=actor, data={"reports": len(reports)}, ip=ip)
        if reports:
            # The newest report's id: the task reads the address from it, so no address is queued.
            enqueue_on_commit(email_portal_links, reports[0].pk)
    return len(reports)
