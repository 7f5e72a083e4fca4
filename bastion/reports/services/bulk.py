"""Acting on many reports at once: assign, add a label, close as spam.

Each bulk action is the single-report action run once per report, each in its own transaction
with its own lock, version check, timeline entry and audit row, exactly as if staff had done them
one by one. So one report refusing (a move the workflow does not allow, someone else's edit since
the list was drawn) does not undo or block the others: the result says, per report, what was done,
what already was so, and what was refused and why.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from bastion.accounts.models import User
from bastion.accounts.permissions import is_triager
from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.reports.errors import ReportRejected
from bastion.reports.models import Label, Report, TimelineKind
from bastion.reports.services._shared import add_timeline, require_staff_reader
from bastion.reports.services.casework import assign_report, bump_version, locked_and_checked
from bastion.reports.services.lifecycle import change_status
from bastion.reports.services.scoring import MAX_LABELS, clean_labels
from bastion.reports.workflow import Status
from bastion.vault.errors import KeyDestroyed

# A bound on one request's work: each report is a transaction of its own (a lock, an audit row).
MAX_BULK = 200


class Result(enum.StrEnum):
    """What became of one report in a bulk action."""

    DONE = "done"
    UNCHANGED = "unchanged"  # it already was so; nothing written
    REFUSED = "refused"


@dataclass(frozen=True)
class Outcome:
    """One report's result in a bulk action; ``reason`` says why it was refused."""

    report: Report
    result: Result
    reason: str = ""


def _check(reports: Sequence[Report], actor: ActorArg) -> None:
    require_staff_reader(actor)
    if len(reports) > MAX_BULK:
        raise ReportRejected(
            "reports", f"Act on at most {MAX_BULK} reports at a time; {len(reports)} were chosen."
        )


def _each(
    reports: Sequence[Report],
    act: Callable[[Report, int | None], Result],
    expected_versions: Mapping[int, int] | None,
) -> list[Outcome]:
    """Run ``act`` on every report, turning a refusal into that report's outcome."""
    outcomes = []
    for report in reports:
        expected = (expected_versions or {}).get(report.pk)
        try:
            outcomes.append(Outcome(report, act(report, expected)))
        except ValidationError as error:  # TransitionRefused, StaleEdit, ReportRejected
            outcomes.append(Outcome(report, Result.REFUSED, " ".join(error.messages)))
        except KeyDestroyed:
            reason = "Its content was destroyed (the reporter's deletion request), so no message can be sent."
            outcomes.append(Outcome(report, Result.REFUSED, reason))
    return outcomes


def assign_reports(
    *,
    reports: Sequence[Report],
    assignee: User | None,
    actor: ActorArg,
    expected_versions: Mapping[int, int] | None = None,
    ip: str | None = None,
) -> list[Outcome]:
    """Give each of ``reports`` to ``assignee`` (None: unassign), through ``assign_report``.

    ``expected_versions`` maps a report's id to the version the list showed: a report changed
    since is refused as a stale edit rather than reassigned over someone else's change.
    """
    _check(reports, actor)
    if assignee is not None and not is_triager(assignee):
        raise ReportRejected("assignee", "Reports can only be assigned to active triagers and admins.")
    wanted = assignee.pk if assignee is not None else None

    def act(report: Report, expected: int | None) -> Result:
        if report.assignee_id == wanted:
            return Result.UNCHANGED
        assign_report(report=report, assignee=assignee, actor=actor, expected_version=expected, ip=ip)
        return Result.DONE

    return _each(reports, act, expected_versions)


def label_reports(
    *,
    reports: Sequence[Report],
    label: str,
    actor: ActorArg,
    expected_versions: Mapping[int, int] | None = None,
    ip: str | None = None,
) -> list[Outcome]:
    """Add the label ``label`` (made if new) to each of ``reports``, keeping their other labels.

    There is no single-report "add a label" service to call (scoring's ``classify_report`` sets
    the whole set, which a bulk action must not overwrite), so each report gets here what
    ``classify_report`` would record: under the row lock and version check, a staff-only CLASSIFIED timeline
    entry and a REPORT_CLASSIFIED audit row naming the new label set.
    """
    _check(reports, actor)
    names = clean_labels([label])
    if not names:
        raise ReportRejected("label", "Name the label to add, for example needs-poc.", code="required")
    name = names[0]
    # get_or_create: two staff adding the same new label at once both end up with the one row.
    row = Label.objects.get_or_create(name=name)[0]

    def act(report: Report, expected: int | None) -> Result:
        with transaction.atomic():
            locked = locked_and_checked(report, expected_version=expected)
            current = sorted(locked.labels.values_list("name", flat=True))
            if name in current:
                return Result.UNCHANGED  # no new version, so no one else's open form turns stale
            if len(current) >= MAX_LABELS:
                raise ReportRejected(
                    "label", f"It already has {len(current)} labels, the most a report takes."
                )
            bump_version(locked, report)
            locked.labels.add(row)
            data = {"fields": ["labels"], "labels": sorted([*current, name])}
            add_timeline(locked, TimelineKind.CLASSIFIED, public=False, **data)
            record(event=Event.REPORT_CLASSIFIED, actor=actor, target=locked, data=data, ip=ip)
        return Result.DONE

    return _each(reports, act, expected_versions)


def close_reports_as_spam(
    *,
    reports: Sequence[Report],
    actor: ActorArg,
    reporter_message: str | Callable[[Report], str] | None = None,
    expected_versions: Mapping[int, int] | None = None,
    ip: str | None = None,
) -> list[Outcome]:
    """Move each of ``reports`` to spam through ``change_status``, where the workflow allows it.

    ``reporter_message`` is what each reporter is told (a text, or a function of the report that
    makes it, e.g. a canned response with the tracking ID filled in); None or empty sends the plain
    status-change mail. A report that has been triaged cannot be spam any more: it is refused
    with the workflow's reason, and the others are still closed.
    """
    _check(reports, actor)

    def act(report: Report, expected: int | None) -> Result:
        if report.status == Status.SPAM:
            return Result.UNCHANGED
        message = reporter_message(report) if callable(reporter_message) else reporter_message
        change_status(
            report=report,
            to=Status.SPAM,
            actor=actor,
            reporter_message=message,
            expected_version=expected,
            ip=ip,
        )
        return Result.DONE

    return _each(reports, act, expected_versions)
