"""Who may change an embargo, and the checks every embargo service shares.

Who may change an embargo: the staff who may see the report *and* hold a plain grant on it, or an
admin who may see it. Someone who broke the glass came to look: they may read, not re-arrange.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from bastion.accounts.models import User, normalize_email_address
from bastion.accounts.permissions import is_admin
from bastion.audit.services import ActorArg
from bastion.reports.access import holds_grant, may_see
from bastion.reports.embargo_tasks import (
    email_embargo_party,
    utc_text,
)
from bastion.reports.errors import ReportRejected, StaleEdit
from bastion.reports.models import (
    AccessGrant,
    Embargo,
    EmbargoParty,
    GrantKind,
    PartyKind,
    Report,
)
from bastion.reports.sealing import seal_field
from bastion.reports.services._shared import (
    clean_text,
    require_staff_reader,
)
from bastion.worker.queue import enqueue_on_commit

MAX_REASON = 2000
MIN_BREAK_GLASS_REASON = 10
MAX_LABEL = 200
# Longer than any coordinated disclosure runs: an end further out is almost surely a typo in the year.
MAX_EMBARGO = timedelta(days=730)
REPORTER_LABEL = "Reporter"


class StaleEmbargo(StaleEdit):
    """Someone changed the embargo since this form was loaded (HTTP 409); nothing was saved."""

    def __init__(self, expected: int, current: int) -> None:
        self.expected = expected
        self.current = current
        ValidationError.__init__(
            self,
            f"Someone else changed this embargo while you were looking at it (you saw version {expected}, "
            f"it is now at version {current}). Nothing was saved: reload the report, check the new end "
            "and reason, then act again if it still applies.",
            code="stale_edit",
        )


@dataclass(frozen=True)
class NewParty:
    """A party to bind when setting an embargo: an upstream project or an internal team."""

    kind: PartyKind | str
    label: str
    email: str | None = field(default=None, repr=False)


# --- Rules -----------------------------------------------------------------------------------------


def require_coordinator(actor: ActorArg, report: Report) -> User:
    """``actor`` if they may change ``report``'s embargo and grants; PermissionDenied otherwise."""
    user = require_staff_reader(actor)
    if not may_see(user, report):
        raise PermissionDenied("This report is under embargo and you are not granted on it.")
    if not is_admin(user) and not holds_grant(user, report):
        raise PermissionDenied(
            "Only staff granted on this report, or an admin, may change its embargo or who is granted. "
            "Ask one of them for a grant."
        )
    return user


def end_instant(ends_at: datetime, now: datetime) -> datetime:
    """``ends_at`` in UTC if it is an aware instant in the future and within MAX_EMBARGO."""
    if not isinstance(ends_at, datetime):
        raise ReportRejected("ends_at", "Give the end as a date and time.", code="invalid")
    if timezone.is_naive(ends_at):
        # A wall-clock time without its zone is exactly the confusion an embargo must not have.
        raise ReportRejected(
            "ends_at", "Give the end with its time zone (or in UTC): a bare time is ambiguous.", code="naive"
        )
    when = ends_at.astimezone(UTC).replace(microsecond=0)
    if when <= now:
        raise ReportRejected(
            "ends_at",
            f"The end must be in the future; {utc_text(when)} has passed (it is {utc_text(now)}).",
            code="past",
        )
    if when > now + MAX_EMBARGO:
        raise ReportRejected(
            "ends_at",
            f"{utc_text(when)} is more than {MAX_EMBARGO.days} days away; check the year.",
            code="too_far",
        )
    return when


def clean_reason(reason: str, *, minimum: int = 1) -> str:
    text = clean_text(reason, field="reason", max_length=MAX_REASON, required=True)
    if len(text) < minimum:
        raise ReportRejected(
            "reason",
            f"Say why in at least {minimum} characters: the security lead and the embargo's setter read it.",
            code="too_short",
        )
    return text


def usable_key(report: Report) -> bytes:
    """``report``'s data key, or ReportRejected when it was shredded (nothing left to embargo)."""
    if report.data_key.is_destroyed:
        raise ReportRejected(
            "reason",
            "This report's content was destroyed: there is nothing left to embargo.",
            code="shredded",
        )
    return report.data_key_plain()


def locked_embargo(embargo: Embargo, seen_version: int | None) -> Embargo:
    """``embargo``'s row, locked for this transaction, its version checked (StaleEmbargo)."""
    locked = Embargo.objects.select_for_update().select_related("report__data_key").get(pk=embargo.pk)
    if seen_version is not None and seen_version != locked.version:
        raise StaleEmbargo(seen_version, locked.version)
    return locked


def require_running(embargo: Embargo, now: datetime, *, what: str) -> None:
    if embargo.lifted_at is not None:
        raise ReportRejected(
            "embargo", f"This embargo was lifted; there is nothing to {what}. Set a new one.", code="lifted"
        )
    if not embargo.is_running(now):
        raise ReportRejected(
            "embargo",
            f"This embargo ended at {utc_text(embargo.ends_at)}; there is nothing to {what}. Set a new one.",
            code="ended",
        )


def notify_parties(embargo: Embargo, occasion: str, *, only: EmbargoParty | None = None) -> None:
    """Mail each party with an address (the reporter through their own path) after commit."""
    for party in [only] if only is not None else embargo.parties.all():
        if party.kind == PartyKind.REPORTER or party.email is not None:
            enqueue_on_commit(email_embargo_party, party.pk, embargo.version, occasion)


def plain_grant(report: Report, user: User, granted_by: User, now: datetime) -> AccessGrant | None:
    """A plain grant for ``user`` unless they hold one in force; the new grant, or None."""
    if AccessGrant.objects.in_force(now).filter(report=report, user=user, kind=GrantKind.GRANT).exists():
        return None
    return AccessGrant.objects.create(
        report=report, user=user, kind=GrantKind.GRANT, granted_by=granted_by, granted_at=now
    )


def clean_party(kind: PartyKind | str, label: str, email: str | None) -> tuple[PartyKind, str, str | None]:
    """The party's kind, name and address as stored, or ReportRejected naming the bad field."""
    try:
        kind = PartyKind(kind)
    except ValueError:
        raise ReportRejected(
            "kind", "Choose an upstream project or an internal team.", code="invalid"
        ) from None
    if kind == PartyKind.REPORTER:
        raise ReportRejected(
            "kind",
            "The reporter is a party to every embargo already; add upstreams or teams here.",
            code="reporter",
        )
    name = clean_text(label, field="label", max_length=MAX_LABEL, required=True, one_line=True)
    address = clean_text(email or "", field="email", max_length=254, one_line=True)
    if address:
        try:
            validate_email(address)
        except ValidationError:
            raise ReportRejected(
                "email",
                f"“{address[:80]}” is not an email address; check it or leave it empty.",
                code="invalid",
            ) from None
        address = normalize_email_address(address)
    return kind, name, address or None


def party_row(
    embargo: Embargo, kind: PartyKind, label: str, email: str | None, *, key: bytes
) -> EmbargoParty:
    party = EmbargoParty(embargo=embargo, kind=kind, label=label)
    party.email = seal_field(party, "email", email, key=key)
    party.save(force_insert=True)
    return party
