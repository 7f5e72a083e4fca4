"""Downgrading a report to a public bug: close it, and hand the content over without its reporter.

Some reports are real bugs but not security issues (or no longer sensitive). They belong in the
ordinary issue tracker. The hand-over closes the report as informative, tells the reporter, and
gives staff an export to paste into the tracker. The export carries the content and our scoring,
never the reporter's name, handle or address: those are scrubbed wherever they appear in the text,
because people sign their write-ups. Files are not exported; staff attach what is fit to share.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.reports.models import Report, TimelineKind
from bastion.reports.services._shared import add_timeline, require_staff_reader
from bastion.reports.services.conversation import OpenedReport, open_report
from bastion.reports.services.lifecycle import change_status
from bastion.reports.workflow import Status, can_transition

SCRUBBED = "[reporter]"
# A shorter local part ("me@...") would scrub ordinary words out of the text.
MIN_SCRUB_LENGTH = 4
# A word of a name this long or longer is scrubbed on its own ("Okonkwo", "Li" is not).
MIN_SCRUB_WORD = 3
_WORDS = re.compile(r"\w+")


def hand_over_as_public_bug(
    *,
    report: Report,
    actor: ActorArg,
    reporter_message: str | None = None,
    expected_version: int | None = None,
    ip: str | None = None,
) -> Report:
    """Close ``report`` as informative and mark it handed over as a public bug; the reporter is told.

    Allowed from any state that may move to informative (TransitionRefused otherwise). The
    export itself is :func:`public_bug_export`, fetched separately (each fetch is audited).
    """
    require_staff_reader(actor)
    with transaction.atomic():
        change_status(
            report=report,
            to=Status.INFORMATIVE,
            actor=actor,
            reporter_message=reporter_message,
            expected_version=expected_version,
            ip=ip,
        )
        now = timezone.now()
        Report.objects.filter(pk=report.pk).update(public_bug_at=now)
        report.public_bug_at = now
        add_timeline(report, TimelineKind.PUBLIC_BUG, public=True)
        record(event=Event.REPORT_EXPORTED_PUBLIC, actor=actor, target=report, data={"closed": True}, ip=ip)
    return report


def can_hand_over(report: Report) -> bool:
    """Whether the report may be downgraded now (it can still move to informative)."""
    return can_transition(report.status, Status.INFORMATIVE)


def public_bug_export(*, report: Report, actor: ActorArg, ip: str | None = None) -> str:
    """The report as Markdown for an ordinary issue tracker, with the reporter's identity scrubbed.

    Opening the content is a staff read (audited by open_report), and the export is audited too.
    """
    opened = open_report(report=report, actor=actor, ip=ip)
    record(event=Event.REPORT_EXPORTED_PUBLIC, actor=actor, target=report, data={"closed": False}, ip=ip)
    scrub = _scrubber(opened)
    lines = [f"# {scrub(opened.title)}", ""]
    facts = [
        ("Product", opened.product),
        ("Version", opened.version),
        ("Severity", report.get_severity_display() if report.severity else ""),
        ("CVSS", report.cvss_v4 or report.cvss_v3),
        ("CWE", f"CWE-{report.cwe_id}" if report.cwe_id else ""),
    ]
    lines += [f"- **{name}:** {scrub(value)}" for name, value in facts if value]
    for heading, text in (("Description", opened.description), ("Steps to reproduce", opened.steps)):
        if text:
            lines += ["", f"## {heading}", "", scrub(text)]
    if opened.impact:
        lines += ["", "## Impact", "", scrub(opened.impact)]
    lines += [
        "",
        f"_Handed over from security report {report.tracking_id}; the reporter's identity was removed._",
    ]
    return "\n".join(lines) + "\n"


def _scrubber(opened: OpenedReport) -> Callable[[str], str]:
    """Replace the reporter's name, handle and address, and each part of them, in any case.

    People sign with part of their name ("M. Okonkwo", "Margarethe"), so every word of the name and
    handle of MIN_SCRUB_LENGTH letters or more goes too, as a whole word (so "Ann" does not eat
    "Annotation"); the full values and the address's local part go wherever they appear.
    """
    reporter = opened.reporter
    local_part = reporter.email.partition("@")[0]
    whole = {value for value in (reporter.name, reporter.handle, reporter.email, local_part) if value.strip()}
    words = {word for value in (reporter.name, reporter.handle) for word in _WORDS.findall(value)}
    anywhere = [re.escape(value) for value in whole if len(value.strip()) >= MIN_SCRUB_LENGTH]
    as_words = [rf"\b{re.escape(word)}\b" for word in words if len(word) >= MIN_SCRUB_WORD]
    patterns = sorted(anywhere, key=len, reverse=True) + sorted(as_words, key=len, reverse=True)
    if not patterns:
        return lambda text: text
    pattern = re.compile("|".join(patterns), re.IGNORECASE)
    return lambda text: pattern.sub(SCRUBBED, text)
