"""The reporter's timeline in words: each public TimelineEntry as one sentence.

Entries hold states and ids only (never content), so every sentence here is built from fixed text
and the workflow's own labels.
"""

from __future__ import annotations

from collections.abc import Callable
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
    "upstream_consent": "answer about being named to upstream projects",
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
    if kind in _COORDINATION:
        return _COORDINATION[kind](data, time_zone)
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


def _instant(value: object, time_zone: str) -> str:
    """An instant shown on the reader's wall clock with its UTC beside it: no time-zone guessing."""
    try:
        at = datetime.fromisoformat(str(value))
        local = at.astimezone(ZoneInfo(time_zone))
    except (ValueError, ZoneInfoNotFoundError):
        return "a date to be confirmed"
    utc = at.astimezone(ZoneInfo("UTC"))
    if time_zone == "UTC":
        return f"{utc:%d %b %Y, %H:%M} UTC"
    return f"{local:%d %b %Y, %H:%M} ({time_zone}), {utc:%d %b %Y, %H:%M} UTC"


_SHARED_NAMES = {
    "summary": "a summary",
    "reproduction": "the steps to reproduce",
    "versions": "the affected versions",
    "impact": "the impact",
}


def _forwarded_sentence(data: dict[str, object], time_zone: str) -> str:
    """A hand-off upstream: to whom, what went, and whether the reporter's identity went along."""
    project = str(data.get("project") or "an upstream project")
    shared = [_SHARED_NAMES.get(str(name), str(name)) for name in data.get("shared") or []]  # type: ignore[attr-defined]  # a JSON list
    what = f" We shared {', '.join(shared)}" if shared else " We shared a summary"
    who = (
        "; your name went with it, as you agreed." if data.get("identity_shared") else "; not your identity."
    )
    return f"Forwarded to upstream ({project}), whose code has the flaw.{what}{who}"


def _upstream_sentence(data: dict[str, object], time_zone: str) -> str:
    project = str(data.get("project") or "the upstream project")
    return (
        f"Upstream ({project}): {str(data.get('status_label') or data.get('status') or 'updated').lower()}."
    )


def _embargo_sentence(data: dict[str, object], time_zone: str) -> str:
    when = _instant(data.get("ends_at"), time_zone)
    return f"Embargo until {when}: nothing about this report is published before then."


def _credit_sentence(data: dict[str, object], time_zone: str) -> str:
    if data.get("confirmed"):
        return "Your credit was confirmed as it will be published."
    return "Your credit was updated."


def _planned_sentence(data: dict[str, object], time_zone: str) -> str:
    identifier = str(data.get("identifier") or "An advisory")
    return f"{identifier} is planned for publication on {_instant(data.get('publish_at'), time_zone)}."


def _published_sentence(data: dict[str, object], time_zone: str) -> str:
    return f"{data.get('identifier') or 'The advisory'} was published."


_COORDINATION: dict[str, Callable[[dict[str, object], str], str]] = {
    TimelineKind.EMBARGO_SET: _embargo_sentence,
    TimelineKind.EMBARGO_CHANGED: _embargo_sentence,
    TimelineKind.EMBARGO_LIFTED: lambda data, zone: "The embargo was lifted.",
    TimelineKind.EMBARGO_ACKNOWLEDGED: lambda data, zone: (
        f"{data.get('party') or 'A party'} acknowledged the embargo."
    ),
    TimelineKind.FORWARDED_UPSTREAM: _forwarded_sentence,
    TimelineKind.UPSTREAM_UPDATED: _upstream_sentence,
    TimelineKind.CREDIT_UPDATED: _credit_sentence,
    TimelineKind.ADVISORY_PLANNED: _planned_sentence,
    TimelineKind.ADVISORY_PUBLISHED: _published_sentence,
}


def public_timeline(report: Report) -> list[TimelineLine]:
    """What the reporter's timeline shows: public entries only, oldest first."""
    zone = report.reporter.time_zone
    return [
        TimelineLine(at=entry.created_at, text=describe(entry, time_zone=zone))
        for entry in report.timeline.public()
    ]
