"""Working a report: stale-edit protection, assignment, the on-call rota and round-robin.

Every staff edit of a report locks its row, checks the version the editor saw (``expected_version``;
``None`` for callers with nothing to be stale against, such as the scheduler) and bumps it. Two
staff editing at once: the second is told (``StaleEdit``), and nothing is overwritten silently.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bastion.accounts.models import Role, User
from bastion.accounts.permissions import is_triager
from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.reports.clocks import program_for
from bastion.reports.errors import ReportRejected, StaleEdit
from bastion.reports.models import Report, TimelineKind
from bastion.reports.services._shared import add_timeline, require_staff_reader


def locked_for_edit(report: Report, *, expected_version: int | None) -> Report:
    """``report``'s row, locked for this transaction, its version checked and bumped.

    Call inside ``transaction.atomic()``. StaleEdit when ``expected_version`` is given and is not
    the stored version. ``report`` (the caller's instance) gets the new version too.
    """
    locked = Report.objects.select_for_update().select_related("reporter", "data_key").get(pk=report.pk)
    if expected_version is not None and expected_version != locked.version:
        raise StaleEdit(expected_version, locked.version)
    locked.version += 1
    Report.objects.filter(pk=locked.pk).update(version=F("version") + 1)
    report.version = locked.version
    return locked


def assignable_staff() -> list[User]:
    """Who may be given a report: active triagers and admins."""
    staff = User.objects.filter(is_active=True, role__in=[Role.TRIAGER, Role.ADMIN]).select_related("backup")
    return list(staff.order_by("email"))


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
        locked = locked_for_edit(report, expected_version=expected_version)
        if locked.assignee_id == (assignee.pk if assignee else None):
            return report
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


def next_on_duty() -> User | None:
    """The on-duty triager who was given a report longest ago (never: first); None if nobody is on duty."""
    on_duty = User.objects.filter(is_active=True, on_duty=True, role__in=[Role.TRIAGER, Role.ADMIN])
    return on_duty.order_by(F("last_assigned_at").asc(nulls_first=True), "id").first()


def auto_assign(report: Report) -> User | None:
    """Round-robin: hand a new report to the next on-duty triager, when its program says so.

    Called by the submission inside its transaction. Returns who got it (None: left unassigned).
    The user row is locked, so two reports arriving at once go to two people, not the same one.
    """
    if not program_for(report).auto_assign:
        return None
    with transaction.atomic():
        chosen = next_on_duty()
        if chosen is None:
            return None
        User.objects.select_for_update().filter(pk=chosen.pk).first()
        _set_assignee(report, chosen)
        report.assignee = chosen
        add_timeline(report, TimelineKind.ASSIGNED, public=False, to=chosen.pk, auto=True)
        record(event=Event.REPORT_ASSIGNED, actor=None, target=report, data={"to": chosen.pk, "auto": True})
    return chosen
