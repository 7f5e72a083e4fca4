"""The credit ledger as the advisories see it: the public credits of some reports, and marking them published.

A thin adapter over :mod:`bastion.reports.services.credits` (the ledger is the reports app's), so
the advisory services depend on two names only, and every credit they publish has the shape the
exports read (:class:`bastion.disclosure.content.PublicCredit`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bastion.audit.services import ActorArg
from bastion.disclosure.content import PublicCredit
from bastion.reports.models import Report
from bastion.reports.services import credits as ledger


def credits_for_publication(reports: Iterable[Report]) -> tuple[list[PublicCredit], list[str]]:
    """The public credits of ``reports`` (reduced to what each person chose), and why consent is missing.

    An empty problem list is the checklist's "credit consent recorded".
    """
    lines, problems = ledger.credits_for_publication(list(reports))
    return [PublicCredit(name=c.name, credit_type=c.credit_type, link=c.link) for c in lines], problems


def mark_credits_published(*, reports: Iterable[Report], at: datetime, actor: ActorArg) -> int:
    """Record that the credits of ``reports`` are public as of ``at``; how many changed."""
    return ledger.mark_credits_published(reports=list(reports), at=at, actor=actor)
