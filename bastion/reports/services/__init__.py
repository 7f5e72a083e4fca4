"""The reports services: every change to a report, and every opening of its sealed content.

Typed functions with keyword arguments and an explicit ``actor`` (a staff ``User``, the reporter's
``reporter_actor(report)``, ``Actor.anonymous()`` for a web visitor, or ``None`` for Bastion itself),
never a request, so views, mail, tasks and commands share them. Each writes its audit row inside its
own transaction, and enqueues mail only on commit.
"""

from bastion.reports.services._shared import IncomingFile, reporter_actor
from bastion.reports.services.conversation import (
    AttachmentMeta,
    OpenedAttachment,
    OpenedMessage,
    OpenedReport,
    OpenedReporter,
    open_attachment,
    open_report,
    post_message,
)
from bastion.reports.services.lifecycle import StatusChange, change_status, request_deletion, update_reporter
from bastion.reports.services.portal import (
    portal_token,
    portal_url,
    report_for_portal_token,
    reports_for_email,
    rotate_portal_token,
    send_portal_links,
)
from bastion.reports.services.shredding import (
    ShredReason,
    Tombstone,
    apply_retention,
    approve_deletion,
    enforce_shred_ledger,
    pending_deletions,
    refusal_reason,
    refuse_deletion,
    set_retention_rule,
    shred_report,
    tidy_shredded,
    tombstone,
)
from bastion.reports.services.submission import Submission, SubmitResult, submit_report

__all__ = [
    "AttachmentMeta",
    "IncomingFile",
    "OpenedAttachment",
    "OpenedMessage",
    "OpenedReport",
    "OpenedReporter",
    "ShredReason",
    "StatusChange",
    "Submission",
    "SubmitResult",
    "Tombstone",
    "apply_retention",
    "approve_deletion",
    "change_status",
    "enforce_shred_ledger",
    "open_attachment",
    "open_report",
    "pending_deletions",
    "portal_token",
    "portal_url",
    "post_message",
    "refusal_reason",
    "refuse_deletion",
    "report_for_portal_token",
    "reporter_actor",
    "reports_for_email",
    "request_deletion",
    "rotate_portal_token",
    "send_portal_links",
    "set_retention_rule",
    "shred_report",
    "submit_report",
    "tidy_shredded",
    "tombstone",
    "update_reporter",
]
