"""The reporter's timeline in words: each public TimelineEntry as one sentence.

Entries hold states and ids only (never content), so every sentence here is built from fixed text
and the workflow's own labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bastion.reports.models import AuthorKind, Report, TimelineEntry, TimelineKind
from bastion.reports.workflow import Status

_FIELD_NAMES = {
    "credit_preference": "credit preference",
    "public_key": "OpenPGP key",
    "time_zone": "time zone",
    "portal_link": "portal link",
}


@dataclass(frozen=True)
class TimelineLine:
    """One dated line of the reporter's timeline."""

    at: datetime
    text: str


def _status_label(value: object) -> str:
    try:
        return str(Status(str(value)).label)
    except ValueError:
        return str(value)


def _bounty_sentence(data: dict[str, object]) -> str:
    """A bounty decision: its status, and the amount once awarded (the reason is in the conversation)."""
    status, amount, currency = data.get("status"), data.get("amount"), data.get("currency") or ""
    money = f" ({amount} {currency})".rstrip() if amount else ""
    if status == "ineligible":
        return "Bounty decision: this report is not eligible for a bounty."
    if status == "approved":
        return f"Bounty decision: an award{money} was approved."
    if status == "paid":
        return f"The bounty{money} was paid."
    return "Bounty decision."


def describe(entry: TimelineEntry, *, time_zone: str = "UTC") -> str:
    """The sentence the reporter reads for ``entry`` (times in it in ``time_zone``)."""
    data = entry.data or {}
    kind = entry.kind
    if kind == TimelineKind.STATUS_CHANGED:
        return f"Status changed from {_status_label(data.get('from'))} to {_status_label(data.get('to'))}."
    if kind == TimelineKind.MESSAGE:
        mine = data.get("author_kind") == AuthorKind.REPORTER
        return "You sent a message." if mine else "The security team sent you a message."
    if kind == TimelineKind.REPORTER_UPDATED:
        fields = [_FIELD_NAMES.get(str(name), str(name)) for name in data.get("fields", [])]
        return f"Your {', '.join(fields)} changed." if fields else "Your details changed."
    if kind == TimelineKind.SUBMITTED:
        return "We received your report."
    if kind == TimelineKind.ATTACHMENT_ADDED:
        return "A file was added."
    if kind == TimelineKind.BOUNTY_DECIDED:
        return _bounty_sentence(data)
    if kind == TimelineKind.PORTAL_LINK_ROTATED:
        return "Your portal link was replaced; earlier links no longer work."
    if kind == TimelineKind.DELETION_REQUESTED:
        return "You asked for this report to be deleted."
    if kind == TimelineKind.MARKED_DUPLICATE:
        return _duplicate_sentence(data, time_zone)
    return f"{TimelineKind(kind).label}." if kind in TimelineKind.values else "Something happened."


def _duplicate_sentence(data: dict[str, object], time_zone: str) -> str:
    """The sentence for a duplicate closure: the original's tracking ID and arrival, never content."""
    original = str(data.get("original", "an earlier report"))
    try:
        received = datetime.fromisoformat(str(data["original_received_at"])).astimezone(ZoneInfo(time_zone))
    except (KeyError, ValueError, ZoneInfoNotFoundError):
        return f"Marked as a duplicate of {original}, which we received before your report."
    when = f"{received:%d %b %Y, %H:%M} ({time_zone})"
    return f"Marked as a duplicate of {original}, which we received on {when}."


def public_timeline(report: Report) -> list[TimelineLine]:
    """What the reporter's timeline shows: public entries only, oldest first."""
    zone = report.reporter.time_zone
    return [
        TimelineLine(at=entry.created_at, text=describe(entry, time_zone=zone))
        for entry in report.timeline.public()
    ]
