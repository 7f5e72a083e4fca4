"""A report handed to an upstream project: its text as a packet may carry it, its timeline, consent.

Disclosure builds and sends the hand-off; the rows it touches on the report (the reporter's consent
to be named upstream, the public timeline, and the opened text) belong to the reports app, so
disclosure calls these services. The consent rule lives here, beside the Reporter it is about:
the reporter's name and handle go upstream only if the reporter said yes (``upstream_consent``
True; None, not asked yet, counts as no). Their email address never goes: an upstream that wants
to reach them asks us, and we ask the reporter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.reports.errors import ReportRejected
from bastion.reports.models import Report, Reporter, TimelineEntry, TimelineKind
from bastion.reports.services._shared import add_timeline, is_reporter_of, require_staff_reader
from bastion.reports.services.conversation import OpenedReport, open_report

# Scrubbing is public_bug's: one definition of "the reporter's identity in their own text".
from bastion.reports.services.public_bug import SCRUBBED, _scrubber

# What a hand-off packet may carry, as the portal's timeline sentence names them.
SECTIONS = ("summary", "reproduction", "versions", "impact")


@dataclass(frozen=True)
class HandoffText:
    """A report's text as an upstream may read it: scrubbed of the reporter unless they consented.

    With ``identity_shared`` the reporter's name and handle stay in the text and are given in
    ``reporter_name``/``reporter_handle``; their email address is scrubbed either way.
    """

    tracking_id: str
    identity_shared: bool
    title: str = field(repr=False)
    description: str = field(repr=False)
    product: str = field(repr=False)
    version: str = field(repr=False)
    steps: str = field(repr=False)
    impact: str = field(repr=False)
    reporter_name: str = field(default="", repr=False)
    reporter_handle: str = field(default="", repr=False)


def may_name_reporter(report: Report) -> bool:
    """Whether the reporter agreed to be named to upstream projects (not asked yet is no)."""
    return report.reporter.upstream_consent is True


def open_for_handoff(
    *, report: Report, actor: ActorArg, share_identity: bool, ip: str | None = None
) -> HandoffText:
    """``report``'s text for a hand-off packet; opening it is the staff read open_report audits.

    ``share_identity`` without the reporter's consent is refused (ReportRejected naming
    ``include_identity``) before anything is opened.
    """
    require_staff_reader(actor)
    if share_identity and not may_name_reporter(report):
        raise ReportRejected(
            "include_identity",
            "The reporter has not agreed to be named to upstream projects, so their identity cannot "
            "go with this hand-off. Send it without their identity, or ask them in the conversation to "
            "say yes in their portal first.",
            code="no_consent",
        )
    opened = open_report(report=report, actor=actor, ip=ip)
    scrub = _email_scrubber(opened) if share_identity else _scrubber(opened)
    return HandoffText(
        tracking_id=report.tracking_id,
        identity_shared=share_identity,
        title=scrub(opened.title),
        description=scrub(opened.description),
        product=scrub(opened.product),
        version=scrub(opened.version),
        steps=scrub(opened.steps),
        impact=scrub(opened.impact),
        reporter_name=opened.reporter.name if share_identity else "",
        reporter_handle=opened.reporter.handle if share_identity else "",
    )


def _email_scrubber(opened: OpenedReport) -> Callable[[str], str]:
    """Remove only the reporter's address: named with consent, they still keep their inbox to themselves."""
    address = opened.reporter.email.strip()
    if not address:
        return lambda text: text
    pattern = re.compile(re.escape(address), re.IGNORECASE)
    return lambda text: pattern.sub(SCRUBBED, text)


def clean_sections(sections: Sequence[str]) -> list[str]:
    """The packet sections chosen, in packet order; ReportRejected naming ``sections`` if none or unknown."""
    chosen = [str(name) for name in sections]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        raise ReportRejected("sections", f"Unknown sections: {', '.join(unknown)}. Choose from the list.")
    if not chosen:
        raise ReportRejected("sections", "Choose at least one section to share with the upstream project.")
    return [name for name in SECTIONS if name in chosen]


def note_forwarded_upstream(
    *, report: Report, project: str, shared: Sequence[str], identity_shared: bool, actor: ActorArg
) -> TimelineEntry:
    """Put "forwarded to upstream" on the reporter's timeline: the project, what went, and whether
    their identity went too (never the packet's text). Call inside the hand-off's transaction.
    """
    require_staff_reader(actor)
    return add_timeline(
        report,
        TimelineKind.FORWARDED_UPSTREAM,
        public=True,
        project=project,
        shared=clean_sections(shared),
        identity_shared=bool(identity_shared),
    )


def note_upstream_status(
    *, report: Report, project: str, status: str, status_label: str, actor: ActorArg
) -> TimelineEntry:
    """Put an upstream's new status on the reporter's timeline (a state, never a reason or text)."""
    require_staff_reader(actor)
    return add_timeline(
        report,
        TimelineKind.UPSTREAM_UPDATED,
        public=True,
        project=project,
        status=status,
        status_label=status_label,
    )


def set_upstream_consent(
    *, report: Report, consent: bool, actor: ActorArg, ip: str | None = None
) -> Reporter:
    """Record whether the reporter lets us name them to upstream projects; the updated Reporter.

    Only the reporter decides (PermissionDenied for anyone else, staff included: consent recorded
    by someone else is no consent). Saying no later stops their name going with future hand-offs;
    it cannot recall a packet already sent, which the portal says. No change, no row.
    """
    if not is_reporter_of(actor, report):
        raise PermissionDenied("Only the reporter can say whether they may be named upstream.")
    if not isinstance(consent, bool):
        raise ReportRejected("upstream_consent", "Answer yes or no.")
    reporter = report.reporter
    if reporter.upstream_consent is consent:
        return reporter
    with transaction.atomic():
        reporter.upstream_consent = consent
        reporter.updated_at = timezone.now()
        reporter.save(update_fields=["upstream_consent", "updated_at"])
        add_timeline(report, TimelineKind.REPORTER_UPDATED, public=True, fields=["upstream_consent"])
        data = {"fields": ["upstream_consent"], "upstream_consent": consent}
        record(event=Event.REPORTER_UPDATED, actor=actor, target=report, data=data, ip=ip)
    return reporter
