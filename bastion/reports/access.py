"""Who may see which report: the one rule every staff-facing app loads reports through.

Triagers and admins see every report, except that a running embargo narrows a report to the staff
granted on it (or who broke the glass, for a while). Viewers see nothing. The rule lives here, in
``reports``, because triage, disclosure and the staff API all ask it and may not import one another.
Admins are no exception: a security lead who is not granted breaks the glass like anyone else, so
every look at an embargoed report is either granted by name or audited with a reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from bastion.accounts.models import User
from bastion.accounts.permissions import AnyUser, is_triager
from bastion.audit.concealment import Concealed
from bastion.reports.identifiers import TRACKING_ID
from bastion.reports.models import AccessGrant, Embargo, GrantKind, Report, ReportQuerySet

# Any queryset, kept as its own class (a ReportQuerySet stays one, with its methods).
Rows = TypeVar("Rows", bound=QuerySet[Any, Any])


def visible_reports(user: AnyUser) -> ReportQuerySet:
    """The reports ``user`` may see: none for non-triagers; embargoed ones only with a grant in force."""
    return only_visible(Report.objects.all(), user)


def visible_report(user: AnyUser, tracking_id: str) -> Report | None:
    """The report ``tracking_id`` with its reporter and data key, if ``user`` may see it; else None.

    Callers answer None with a 404, never a 403: a refusal would confirm that the report exists.
    """
    # Not a tracking ID at all: no query (PostgreSQL refuses a NUL in a text parameter outright).
    if not TRACKING_ID.fullmatch(tracking_id):
        return None
    rows = visible_reports(user).select_related("reporter", "data_key")
    return rows.filter(tracking_id=tracking_id).first()


def only_visible(rows: Rows, user: AnyUser, *, via: str = "pk") -> Rows:
    """``rows`` narrowed to what ``user`` may see; ``via`` names the report (``"report"`` for its rows).

    The rule of :func:`visible_reports`, applied as the exclusion of the handful of reports kept
    from the user. Never write ``pk__in=visible_reports(user)``: SQLite answers that by reading
    every report (~450 ms per page at a million, measured on the report page's duplicates panel).
    """
    staff = _staff(user)
    if staff is None:
        return rows.none()
    return rows.exclude(**{f"{via}__in": _kept_from(staff, timezone.now())})


def hidden_report_ids(user: AnyUser) -> QuerySet[Any, Any]:
    """The ids of the reports ``user`` may not see, as a subquery: a few rows for a triager.

    For anyone else every report, since they see none.
    """
    staff = _staff(user)
    if staff is None:
        return Report.objects.values("pk")
    return _kept_from(staff, timezone.now())


def _staff(user: AbstractBaseUser | AnonymousUser) -> User | None:
    """``user`` as a staff account that works on reports (triager or admin); None for anyone else."""
    if isinstance(user, User) and is_triager(user):
        return user
    return None


def _kept_from(user: User, now: datetime) -> QuerySet[Embargo, Any]:  # rows of .values("report")
    """The ids (``report``) of reports under a running embargo on which ``user`` holds no grant in force."""
    granted = AccessGrant.objects.in_force(now).filter(user=user).values("report")
    return Embargo.objects.running(now).exclude(report__in=granted).values("report")


def may_see(user: AnyUser, report: Report) -> bool:
    """Whether ``user`` may see ``report`` (the same rule as :func:`visible_reports`, for one row)."""
    return visible_reports(user).filter(pk=report.pk).exists()


def hidden_from_audit(reader: AbstractBaseUser | AnonymousUser) -> Concealed:
    """The reports under a running embargo that ``reader`` may not see, for the audit screen to mask.

    Named both ways audit rows name a report: as the target (``reports.report`` and its id) and by
    tracking ID (how their data mentions one). Only running embargoes count, so this is a handful
    of rows however long the trail is.
    """
    now = timezone.now()
    staff = _staff(reader)
    # Anyone else sees no report at all (the audit screen is for admins; this is only the safe answer).
    kept = Embargo.objects.running(now).values("report") if staff is None else _kept_from(staff, now)
    # Only the few embargoed reports are read: never a scan of every report for each page view.
    rows = list(Report.objects.filter(pk__in=kept).values_list("pk", "tracking_id"))
    target = Report._meta.label_lower
    return Concealed(
        targets=frozenset((target, str(pk)) for pk, _ in rows),
        words=frozenset(tracking_id for _, tracking_id in rows),
    )


def is_embargoed(report: Report, *, now: datetime | None = None) -> bool:
    """Whether a running embargo narrows who may see ``report``."""
    return Embargo.objects.running(now).filter(report=report).exists()


def holds_grant(user: AnyUser, report: Report, *, now: datetime | None = None) -> bool:
    """Whether ``user`` holds a plain grant (not a break-glass) in force on ``report``."""
    if not isinstance(user, User):
        return False
    grants = AccessGrant.objects.in_force(now).filter(report=report, user=user, kind=GrantKind.GRANT)
    return grants.exists()


def granted_staff(report: Report, *, now: datetime | None = None) -> list[User]:
    """The active triagers and admins holding a plain grant in force on ``report``, by name.

    Those who broke the glass are left out: they came to look, and are not the people the
    embargo's reminders are for.
    """
    grants = AccessGrant.objects.in_force(now).filter(report=report, kind=GrantKind.GRANT)
    return list(User.objects.assignable().filter(pk__in=grants.values("user")).order_by("full_name", "email"))
