"""The triage views, one module per part of the workspace; ``urls.py`` maps them."""

from bastion.triage.views.inbox import inbox
from bastion.triage.views.report import (
    download,
    mail_original,
    note,
    render_report,
    reply,
    report_page,
    status,
)

__all__ = ["download", "inbox", "mail_original", "note", "render_report", "reply", "report_page", "status"]
