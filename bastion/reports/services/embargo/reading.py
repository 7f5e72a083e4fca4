"""An embargo as staff pages read it: its state, parties, grants, and its sealed reasons opened."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from bastion.audit.services import ActorArg
from bastion.reports.access import may_see
from bastion.reports.models import (
    AccessGrant,
    Embargo,
    EmbargoParty,
    GrantKind,
    PartyKind,
    Report,
)
from bastion.reports.sealing import open_field
from bastion.reports.services._shared import (
    staff_reader,
)


@dataclass(frozen=True)
class PartyState:
    """One party as the staff panel and the reminders see it."""

    party: EmbargoParty
    acknowledged: bool
    has_email: bool


@dataclass(frozen=True)
class EmbargoState:
    """A report's embargo at a glance: running, ended or lifted; who acknowledged; who is granted.

    ``unacknowledged`` is empty unless the embargo runs: a party owes nothing to one that is over.
    """

    embargo: Embargo
    state: str  # "running", "ended" or "lifted"
    parties: list[PartyState]
    unacknowledged: list[PartyState]
    grants: list[AccessGrant]

    @property
    def is_running(self) -> bool:
        """Whether the embargo is in force."""
        return self.state == "running"


# --- Reading ---------------------------------------------------------------------------------------


def embargo_state(report: Report, *, now: datetime | None = None) -> EmbargoState | None:
    """``report``'s embargo, its state and parties (unacknowledged ones flagged) and the grants in
    force; None if it never had one. Clear metadata only: nothing is opened.
    """
    at = now or timezone.now()
    embargo = Embargo.objects.select_related("set_by", "lifted_by").filter(report=report).first()
    if embargo is None:
        return None
    state = "lifted" if embargo.lifted_at is not None else "running" if embargo.is_running(at) else "ended"
    parties = [
        PartyState(
            party=p, acknowledged=p.acknowledged_ends_at == embargo.ends_at, has_email=p.email is not None
        )
        for p in embargo.parties.all()
    ]
    grants = list(
        AccessGrant.objects.in_force(at)
        .filter(report=report)
        .select_related("user", "granted_by")
        .order_by("granted_at", "id")
    )
    unacknowledged = [p for p in parties if not p.acknowledged] if state == "running" else []
    return EmbargoState(
        embargo=embargo, state=state, parties=parties, unacknowledged=unacknowledged, grants=grants
    )


def _require_reader(actor: ActorArg, report: Report) -> None:
    user = staff_reader(actor)
    if user is None or not may_see(user, report):
        raise PermissionDenied("Only staff who may see this report may read its embargo's reasons.")


def opened_embargo_reason(*, embargo: Embargo, actor: ActorArg) -> str:
    """The embargo's stated reason, for staff who may see the report ("" once shredded).

    Read as part of the report page's opening, which ``open_report`` audits; not a read of its own.
    """
    report = embargo.report
    _require_reader(actor, report)
    if report.data_key.is_destroyed:
        return ""
    return open_field(embargo, "reason", key=report.data_key_plain()) or ""


def opened_grant_reasons(*, report: Report, grants: Sequence[AccessGrant], actor: ActorArg) -> dict[int, str]:
    """Each break-glass grant's reason by grant id, for staff who may see ``report``.

    Part of the report page's audited opening, like the embargo's reason.
    """
    _require_reader(actor, report)
    glass = [grant for grant in grants if grant.kind == GrantKind.BREAK_GLASS and grant.reason is not None]
    if not glass or report.data_key.is_destroyed:
        return {}
    key = report.data_key_plain()
    return {grant.pk: open_field(grant, "reason", key=key) or "" for grant in glass}


def reporter_party(embargo: Embargo) -> EmbargoParty | None:
    """The reporter's party on ``embargo`` (made when it was set)."""
    return embargo.parties.filter(kind=PartyKind.REPORTER).first()
