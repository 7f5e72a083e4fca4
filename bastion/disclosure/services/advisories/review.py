"""Review by a second person: submit a draft, approve it (never your own), or send it back with a reason.

Four eyes: whoever wrote the latest revision, or submitted it, cannot approve it. An approval is of
one revision (``approved_revision``); an edit after it voids it (see ``drafting.edit_advisory``).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.disclosure.models import Advisory, AdvisoryState
from bastion.disclosure.services.advisories._base import (
    AdvisoryRejected,
    display_name,
    latest_revision,
    locked,
    open_content,
    open_text_field,
    require_coordinator,
    require_worker,
    save_changed,
    seal_text_field,
)
from bastion.disclosure.services.advisories.rules import missing_for_review

MAX_REASON = 5_000
MIN_REASON = 5


def submit_for_review(
    *, advisory: Advisory, actor: ActorArg, seen_version: int | None = None, ip: str | None = None
) -> Advisory:
    """Ask a second staff member to review the latest revision (DRAFT → IN_REVIEW).

    Refused while the draft lacks a summary, a description or an affected product: a reviewer
    cannot judge what is not written yet.
    """
    user = require_worker(actor, advisory)
    with transaction.atomic():
        row = locked(advisory, seen_version=seen_version, reader=user)
        if row.state != AdvisoryState.DRAFT:
            raise AdvisoryRejected(
                f"{row.identifier} is {row.get_state_display().lower()}; only a draft can be submitted "
                "for review.",
                code="state",
            )
        missing = missing_for_review(open_content(row, key=row.data_key_plain()))
        if missing:
            raise AdvisoryRejected(
                f"Before review, {row.identifier} needs {_listed(missing)}. Edit it, then submit again.",
                code="incomplete",
            )
        row.state = AdvisoryState.IN_REVIEW
        row.submitted_by = user
        save_changed(row, advisory, by=user, fields=["state", "submitted_by"])
        data = {"revision": latest_revision(row).number}
        record(event=Event.ADVISORY_SUBMITTED, actor=actor, target=row, data=data, ip=ip)
    return advisory


def _listed(items: list[str]) -> str:
    """``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def approve_advisory(
    *, advisory: Advisory, actor: ActorArg, seen_version: int | None = None, ip: str | None = None
) -> Advisory:
    """Approve the latest revision (IN_REVIEW → APPROVED), as a second person.

    Refused to the author of any revision not yet published and to whoever submitted it, saying so.
    """
    user = require_coordinator(actor, advisory)
    with transaction.atomic():
        row = locked(advisory, seen_version=seen_version, reader=user)
        if row.state != AdvisoryState.IN_REVIEW:
            raise AdvisoryRejected(
                f"{row.identifier} is {row.get_state_display().lower()}, not in review: submit it for "
                "review first.",
                code="state",
            )
        revision = latest_revision(row)
        # Every revision not yet public is under review, not just the last one: whoever wrote any of
        # them would be approving their own words.
        written = row.revisions.filter(number__gt=row.published_revision or 0, author=user)
        mine = written.order_by("-number").values_list("number", flat=True).first()
        if mine is not None:
            raise AdvisoryRejected(
                f"You wrote revision {mine} of {row.identifier}; approval needs a second person. "
                "Ask a teammate who did not write or submit it to review it.",
                code="own_work",
            )
        if row.submitted_by_id == user.pk:
            raise AdvisoryRejected(
                f"You submitted {row.identifier} for review; approval needs a second person. "
                "Ask a teammate who did not write or submit it to review it.",
                code="own_work",
            )
        row.state = AdvisoryState.APPROVED
        row.approved_by, row.approved_at, row.approved_revision = user, timezone.now(), revision.number
        save_changed(
            row, advisory, by=user, fields=["state", "approved_by", "approved_at", "approved_revision"]
        )
        data = {"revision": revision.number}
        record(event=Event.ADVISORY_APPROVED, actor=actor, target=row, data=data, ip=ip)
    return advisory


def send_back(
    *,
    advisory: Advisory,
    actor: ActorArg,
    reason: str,
    seen_version: int | None = None,
    ip: str | None = None,
) -> Advisory:
    """Send an advisory in review (or approved) back to its author as a draft, saying why.

    The reason is sealed under the advisory's key and shown to staff on the advisory's page.
    """
    user = require_worker(actor, advisory)
    text = (reason or "").replace("\r\n", "\n").strip()
    if len(text) < MIN_REASON:
        raise AdvisoryRejected("Say what needs to change, so its author knows what to do.", field="reason")
    if len(text) > MAX_REASON:
        raise AdvisoryRejected(f"Keep the reason under {MAX_REASON:,} characters.", field="reason")
    with transaction.atomic():
        row = locked(advisory, seen_version=seen_version, reader=user)
        if row.state not in (AdvisoryState.IN_REVIEW, AdvisoryState.APPROVED):
            raise AdvisoryRejected(
                f"{row.identifier} is {row.get_state_display().lower()}; only an advisory in review "
                "or approved can be sent back.",
                code="state",
            )
        previous = row.state
        row.state = AdvisoryState.DRAFT
        row.approved_by, row.approved_at, row.approved_revision = None, None, None
        row.sent_back_by, row.sent_back_at = user, timezone.now()
        row.sent_back_reason = seal_text_field(row, "sent_back_reason", text, key=row.data_key_plain())
        fields = ["state", "approved_by", "approved_at", "approved_revision", "sent_back_by", "sent_back_at"]
        save_changed(row, advisory, by=user, fields=[*fields, "sent_back_reason"])
        data = {"from": previous, "revision": latest_revision(row).number}
        record(event=Event.ADVISORY_REJECTED, actor=actor, target=row, data=data, ip=ip)
    return advisory


def review_note(*, advisory: Advisory, actor: ActorArg) -> str:
    """Why the advisory was last sent back, with who sent it ("" if never), for staff who may see it.

    Read together with the content on the advisory's page, whose opening is the audited read.
    """
    require_worker(actor, advisory)
    if advisory.sent_back_reason is None:
        return ""
    reason = open_text_field(advisory, "sent_back_reason", key=advisory.data_key_plain())
    return f"{display_name(advisory.sent_back_by)}: {reason}"
