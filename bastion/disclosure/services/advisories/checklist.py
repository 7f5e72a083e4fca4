"""The pre-publish checklist: what must hold before an advisory goes public, with why and what to do.

Publication, by a person or by the every-minute task, happens only when every item holds:

- the embargo has ended (or the lead overrode it, with a reason);
- the planned instant has come (first publication only: it is never published before it);
- the latest revision is approved by a second person;
- the exports validate against their official schemas;
- credit consent is recorded for every reporter;
- the reporters were told the planned date (first publication only).

An update of a published advisory needs the approval, the exports and the credits again; its
embargo and date were settled by the first publication.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from bastion.accounts.permissions import is_admin
from bastion.disclosure.models import Advisory, AdvisoryState
from bastion.disclosure.services.advisories._base import display_name, latest_revision, open_content
from bastion.disclosure.services.advisories.publication import export_problems, next_meta
from bastion.disclosure.services.credit_view import credits_for_publication
from bastion.reports.models import Embargo

EMBARGO, SCHEDULE, APPROVAL, EXPORTS, CREDITS, NOTIFIED = (
    "embargo",
    "schedule",
    "approval",
    "exports",
    "credits",
    "notified",
)
LABELS = {
    EMBARGO: "The embargo has ended (or the lead overrode it)",
    SCHEDULE: "The planned publication time has come",
    APPROVAL: "A second staff member approved the latest revision",
    EXPORTS: "The CSAF, OSV and CVE exports validate",
    CREDITS: "Credit consent is recorded",
    NOTIFIED: "The reporters were told the planned date",
}


@dataclass(frozen=True)
class ChecklistItem:
    """One condition of publication: whether it holds, why (or why not), and what to do about it.

    ``details`` lists the individual problems (export schema errors, whose credit is unconfirmed)
    for staff on the advisory's page; ``label``, ``why`` and ``todo`` hold no advisory content, so
    they may go into a staff mail.
    """

    key: str
    ok: bool
    why: str
    todo: str = ""
    details: tuple[str, ...] = field(default=(), repr=False)

    @property
    def label(self) -> str:
        """The condition, as the checklist names it."""
        return LABELS[self.key]


@dataclass(frozen=True)
class Checklist:
    """Every item, in order; publication may go ahead only when :attr:`ok`."""

    items: tuple[ChecklistItem, ...]

    @property
    def ok(self) -> bool:
        """Whether every item holds."""
        return all(item.ok for item in self.items)

    @property
    def failing(self) -> tuple[ChecklistItem, ...]:
        """The items that do not hold."""
        return tuple(item for item in self.items if not item.ok)

    def explain(self) -> str:
        """The failing items in one paragraph: what blocks publication and what to do."""
        return " ".join(f"{item.label}: no. {item.why} {item.todo}".strip() for item in self.failing)


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _embargo(advisory: Advisory, now: datetime) -> ChecklistItem:
    running = list(
        Embargo.objects.running(now).filter(report__in=advisory.reports.all()).select_related("report")
    )
    if not running:
        return ChecklistItem(EMBARGO, True, "No embargo on its reports is running.")
    latest = max(running, key=lambda e: e.ends_at)
    names = ", ".join(sorted(e.report.tracking_id for e in running))
    # The embargo end the lead's override was given against (None: no valid override).
    covered = (
        advisory.override_embargo_ends_at
        if advisory.override_by is not None
        and is_admin(advisory.override_by)
        and advisory.override_reason is not None
        else None
    )
    if covered is not None and latest.ends_at > covered:
        return ChecklistItem(
            EMBARGO,
            False,
            f"The embargo on {names} now runs until {_utc(latest.ends_at)}, later than the end the lead's "
            "override was given against.",
            "Wait until it ends, or ask the lead to schedule again and override the new end with a reason.",
        )
    if covered is not None:
        return ChecklistItem(
            EMBARGO,
            True,
            f"The embargo on {names} runs until {_utc(latest.ends_at)}, and "
            f"{display_name(advisory.override_by)} (the lead) overrode it, with a reason.",
        )
    return ChecklistItem(
        EMBARGO,
        False,
        f"The embargo on {names} runs until {_utc(latest.ends_at)}.",
        "Wait until it ends, or ask the lead (an admin) to schedule an earlier time with a reason.",
    )


def _schedule(advisory: Advisory, now: datetime) -> ChecklistItem:
    if advisory.publish_at is None:
        return ChecklistItem(SCHEDULE, False, "No publication time is planned.", "Schedule the publication.")
    if advisory.publish_at > now:
        return ChecklistItem(
            SCHEDULE,
            False,
            f"It is planned for {_utc(advisory.publish_at)}, and is never published before then.",
            "Wait for that time (it is then published automatically), or schedule an earlier one.",
        )
    return ChecklistItem(SCHEDULE, True, f"It was planned for {_utc(advisory.publish_at)}.")


def _approval(advisory: Advisory) -> ChecklistItem:
    latest = latest_revision(advisory).number
    approved = advisory.approved_revision == latest and advisory.approved_by is not None
    if approved and advisory.state in (AdvisoryState.APPROVED, AdvisoryState.PUBLISHED):
        return ChecklistItem(
            APPROVAL, True, f"{display_name(advisory.approved_by)} approved revision {latest}."
        )
    todo = {
        AdvisoryState.DRAFT: "Submit it for review; a second staff member then approves it.",
        AdvisoryState.IN_REVIEW: "A second staff member (not its author or submitter) must approve it.",
    }.get(AdvisoryState(advisory.state), "Draft a new advisory; a withdrawn one is not published.")
    return ChecklistItem(
        APPROVAL, False, f"Revision {latest} is {advisory.get_state_display().lower()}, not approved.", todo
    )


def _notified(advisory: Advisory) -> ChecklistItem:
    if advisory.publish_at is None or advisory.reporter_notified_at is None:
        return ChecklistItem(
            NOTIFIED,
            False,
            "The reporters were not told a publication date.",
            "Schedule the publication: it tells them.",
        )
    if advisory.notified_publish_at != advisory.publish_at:
        return ChecklistItem(
            NOTIFIED,
            False,
            "The reporters were told another date than the one planned.",
            "Schedule the publication again: it tells them the new date.",
        )
    return ChecklistItem(NOTIFIED, True, f"They were told of {_utc(advisory.publish_at)}.")


def prepublish_checklist(advisory: Advisory, *, now: datetime) -> Checklist:
    """What holds and what blocks publishing ``advisory`` at ``now`` (an update, once it is published).

    It reads the content and the credit ledger as Bastion itself, to validate what would be
    published; nothing is shown or returned but the verdicts.
    """
    first = advisory.published_at is None
    reports = list(advisory.reports.select_related("data_key"))
    credits, problems = credits_for_publication(reports)
    if problems:
        credit_item = ChecklistItem(
            CREDITS,
            False,
            "A reporter has not confirmed how to be credited.",
            "Ask them to confirm their credit in the portal, or withdraw it with a reason.",
            details=tuple(problems),
        )
    else:
        credit_item = ChecklistItem(CREDITS, True, f"{len(credits)} credit(s) confirmed as they will appear.")
    content = open_content(advisory, key=advisory.data_key_plain())
    invalid = export_problems(content, next_meta(advisory, credits=credits, at=now))
    if invalid:
        export_item = ChecklistItem(
            EXPORTS,
            False,
            f"{len(invalid)} problem(s) against the official schemas.",
            "Fix the fields named below (edit the advisory), then check again.",
            details=tuple(invalid),
        )
    else:
        export_item = ChecklistItem(EXPORTS, True, "Every export validates against its official schema.")
    items = [_approval(advisory), export_item, credit_item]
    if first:
        items = [_embargo(advisory, now), _schedule(advisory, now), *items, _notified(advisory)]
    return Checklist(items=tuple(items))
