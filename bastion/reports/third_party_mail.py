"""Which report a reply to our mail to a third party is about, by the kind of mail it answers.

Mail we send someone other than the reporter (a hand-off to an upstream) carries a Message-ID
``<kind.UUID@domain>``; the app that sent it says which report a UUID of that kind is about. The
app registers a dotted path from its ``AppConfig.ready()``: reports may not import it, and the
lookup's module is imported only when a reply arrives, not at every process's start.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from bastion.reports.models import Report

ReportOfMail = Callable[[uuid.UUID], "Report | None"]
_registered: dict[str, str] = {}  # kind -> dotted path of its ReportOfMail


def register_third_party_mail(kind: str, report_of: str) -> None:
    """Have replies to our ``<kind.UUID@...>`` mail kept on the report ``report_of(UUID)`` names.

    ``report_of`` is the dotted path of that function. Such mail went to someone other than the
    reporter (an upstream's security contact), so a reply to it is theirs: it is kept for staff
    only, never posted to the reporter's conversation, and never opens a new report, where it
    could carry an embargoed issue into the open inbox.
    """
    if kind in ("report", "message"):
        raise ValueError(f"{kind!r} is a kind of our mail to reporters")
    _registered[kind] = report_of


def lookup_for(kind: str) -> ReportOfMail | None:
    """The registered lookup for ``kind``, imported on first use; None for a kind nobody sends."""
    path = _registered.get(kind)
    lookup: ReportOfMail | None = import_string(path) if path is not None else None
    return lookup
