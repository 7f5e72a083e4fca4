"""Working a report: stale-edit protection, assignment, the on-call rota and round-robin.

Every staff edit of a report locks its row, checks the version the editor saw (``expected_version``;
``None`` for callers with nothing to be stale against, such as the scheduler) and bumps it. Two
staff editing at once: the second is told (``StaleEdit``), and nothing is overwritten silently.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from bastion.accounts.models import User
from bastion.accounts.permissions import is_triager
from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.reports.clocks import program_for
from bastion.reports.errors import ReportRejected, StaleEdit
from bastion.reports.models import Program, Report, TimelineKind
from bastion.reports.services._shared import add_timeline, require_staff_reader


def locked_for_edit(report: Report, *, expected_version: int | None) -> Report:
    """``report``'s row, locked for this transaction, its version checked and bumped.

    Call inside ``transaction.atomic()``. StaleEdit when ``expected_version`` is given and is not
    the stored version. ``report`` (the caller's instance) gets the new version too. An edit that
    may turn out to change nothing uses :func:`locked_and_checked` and bumps only if it does.
    """
    locked = locked_and_checked(report, expected_version=expected_version)
    bump_version(locked, report)
    return locked


def locked_and_checked(report: Report, *, expected_version: int | None) -> Report:
    """``report``'s row, locked for this transaction and its version checked, not yet bumped."""
    locked = Report.objects.select_for_update().select_related("reporter", "data_key").get(pk=report.pk)
    if expected_version is not None and expected_version != locked.version:
        raise StaleEdit(expected_version, locked.version)
    return locked


def bump_version(locked: Report, report: Report) -> None:
    """Record that ``locked`` changed: anyone still holding the old version is now stale."""
    locked.version += 1
    Report.objects.filter(pk=locked.pk).update(version=F("version") + 1)
    report.version = locked.version


def assignable_staff() -> list[User]:
    """Who may be given a report: active triagers and admins."""
    return list(User.objects.assignable().select_related("backup").order_by("email"))


def assign_report(
    *,
    report: Report,
    assignee: User | None,
    actor: ActorArg,
    expected_version: int | None = None,
    ip: str | None = None,
) -> Report:
    """Give ``report`` to ``assignee`` (``None`` to unassign); triagers and admins only.

    The assignee must be an active triager or admin (ReportRejected naming ``assignee``). The
    change is staff-only on the timeline and audited; assigning to whoever has it already changes
    nothing.
    """
    require_staff_reader(actor)
    if assignee is not None and not is_triager(assignee):
        raise ReportRejected("assignee", "Reports can only be assigned to active triagers and admins.")
    with transaction.atomic():
        locked = locked_and_checked(report, expected_version=expected_version)
        if locked.assignee_id == (assignee.pk if assignee else None):
            return report  # nothing changed: no version bump, so nobody's open form goes stale
        bump_version(locked, report)
        previous = locked.assignee_id
        _set_assignee(locked, assignee)
        report.assignee = assignee
        data = {"from": previous, "to": assignee.pk if assignee else None}
        add_timeline(locked, TimelineKind.ASSIGNED, public=False, **data)
        record(event=Event.REPORT_ASSIGNED, actor=actor, target=locked, data=data, ip=ip)
    return report


def _set_assignee(report: Report, assignee: User | None) -> None:
    Report.objects.filter(pk=report.pk).update(assignee=assignee)
    if assignee is not None:
        User.objects.filter(pk=assignee.pk).update(last_assigned_at=timezone.now())


def on_duty_staff() -> QuerySet[User]:
    """The triagers and admins on duty, longest since their last report first (never: first)."""
    on_duty = User.objects.assignable().filter(on_duty=True)
    return on_duty.order_by(F("last_assigned_at").asc(nulls_first=True), "id")


def next_on_duty() -> User | None:
    """Who round-robin would pick now; None if nobody is on duty."""
    return on_duty_staff().first()


def auto_assign(report: Report, *, program: Program | None = None) -> User | None:
    """Round-robin: hand a new report to the next on-duty triager, when its program says so.

    Called by the submission inside its transaction. Returns who got it (None: left unassigned).
    Every on-duty row is locked *before* the choice, so of two reports arriving at once the second
    waits and then sees the first one's pick as the most recently assigned (on SQLite the write
    lock already serialises them). ``program`` is the report's, when the caller has it already.
    """
    if not (program or program_for(report)).auto_assign:
        return None
    with transaction.atomic():
        chosen = on_duty_staff().select_for_update().first()
        if chosen is None:
            return None
        _set_assignee(report, chosen)
        report.assignee = chosen
        add_timeline(report, TimelineKind.ASSIGNED, public=False, to=chosen.pk, auto=True)
        record(event=Event.REPORT_ASSIGNED, actor=None, target=report, data={"to": chosen.pk, "auto": True})
    return chosen
