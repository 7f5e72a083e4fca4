"""Grants on an embargoed report, and break-glass for the triagers and admins who hold none."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from bastion.accounts.models import User
from bastion.accounts.permissions import is_admin, is_triager
from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.reports.access import holds_grant, may_see
from bastion.reports.embargo_tasks import (
    email_break_glass,
)
from bastion.reports.errors import ReportRejected
from bastion.reports.models import (
    AccessGrant,
    Embargo,
    GrantKind,
    Report,
)
from bastion.reports.sealing import seal_field
from bastion.reports.services._shared import (
    require_staff_reader,
)
from bastion.reports.services.embargo.rules import (
    MIN_BREAK_GLASS_REASON,
    clean_reason,
    plain_grant,
    usable_key,
)
from bastion.worker.queue import enqueue_on_commit

# --- Grants and break-glass --------------------------------------------------------------------------


def _granter(actor: ActorArg, report: Report) -> User:
    """``actor`` if they may grant or revoke on ``report``: a plain grant holder, or an admin."""
    user = require_staff_reader(actor)
    if is_admin(user) or holds_grant(user, report):
        return user
    raise PermissionDenied(
        "Only staff granted on this report, or an admin, may grant or revoke access to it. "
        "Having broken the glass lets you look, not let others in."
    )


def grant_access(*, report: Report, user: User, actor: ActorArg, ip: str | None = None) -> AccessGrant:
    """Let ``user`` (an active triager or admin) see ``report`` while it is embargoed; the grant.

    Granted staff and admins may grant. An admin grants themself only once they may see the report
    (after breaking the glass, with its reason): otherwise a grant would be a way round the reason.
    Viewers can never be granted. A user already granted keeps the grant they have.
    """
    granter = _granter(actor, report)
    if not is_triager(user):
        raise ReportRejected(
            "user",
            f"{user.get_full_name()} is not an active triager or admin; viewers never see embargoed reports.",
            code="not_triager",
        )
    if user.pk == granter.pk and not may_see(granter, report):
        raise PermissionDenied(
            "You are not granted on this report. Break the glass, with a reason, to look at it first."
        )
    now = timezone.now()
    with transaction.atomic():
        grant = plain_grant(report, user, granter, now)
        if grant is None:
            existing = AccessGrant.objects.in_force(now).filter(
                report=report, user=user, kind=GrantKind.GRANT
            )
            return existing.first()  # type: ignore[return-value]  # _grant just found one in force
        data = {"grant": str(grant.uid), "user": user.pk, "kind": GrantKind.GRANT.value}
        record(event=Event.ACCESS_GRANTED, actor=actor, target=report, data=data, ip=ip)
    return grant


def revoke_access(*, report: Report, user: User, actor: ActorArg, ip: str | None = None) -> int:
    """End every grant ``user`` holds on ``report`` (a break-glass too); how many were ended.

    Refused (ReportRejected on ``user``) when they hold none, or when it would leave a running
    embargo with nobody granted: grant someone else first, or lift the embargo.
    """
    _granter(actor, report)
    now = timezone.now()
    with transaction.atomic():
        Report.objects.select_for_update().filter(pk=report.pk).first()
        mine = AccessGrant.objects.in_force(now).filter(report=report, user=user)
        kinds = set(mine.values_list("kind", flat=True))
        if not kinds:
            raise ReportRejected(
                "user", f"{user.get_full_name()} holds no access to this report.", code="none"
            )
        others = (
            AccessGrant.objects.in_force(now)
            .filter(report=report, kind=GrantKind.GRANT, user__in=User.objects.assignable())
            .exclude(user=user)
        )
        running = Embargo.objects.running(now).filter(report=report).exists()
        if running and GrantKind.GRANT in kinds and not others.exists():
            raise ReportRejected(
                "user",
                f"{user.get_full_name()} is the last person granted on this embargoed report. Grant someone "
                "else first, or lift the embargo.",
                code="last",
            )
        revoked = mine.update(revoked_at=now)
        data = {"user": user.pk, "grants": revoked, "kinds": sorted(kinds)}
        record(event=Event.ACCESS_REVOKED, actor=actor, target=report, data=data, ip=ip)
    return revoked


def break_glass(*, report: Report, actor: ActorArg, reason: str, ip: str | None = None) -> AccessGrant:
    """Let a triager or admin who is not granted see an embargoed report for BREAK_GLASS_HOURS.

    ``reason`` (at least MIN_BREAK_GLASS_REASON characters) is sealed on the grant; the opening is
    audited (BREAK_GLASS), and the embargo's setter and every admin are mailed who looked at which
    report and when, never the reason. Refused when the report is not embargoed, or when the
    actor can see it already.
    """
    user = require_staff_reader(actor)
    now = timezone.now()
    embargo = Embargo.objects.running(now).select_related("set_by").filter(report=report).first()
    if embargo is None:
        raise ReportRejected(
            "reason",
            "This report is not under embargo: open it as usual, no reason needed.",
            code="not_embargoed",
        )
    if may_see(user, report):
        raise ReportRejected("reason", "You can already see this report.", code="visible")
    text = clean_reason(reason, minimum=MIN_BREAK_GLASS_REASON)
    key = usable_key(report)
    with transaction.atomic():
        grant = AccessGrant(
            report=report,
            user=user,
            kind=GrantKind.BREAK_GLASS,
            granted_by=user,
            granted_at=now,
            expires_at=now + timedelta(hours=settings.BREAK_GLASS_HOURS),
        )
        grant.reason = seal_field(grant, "reason", text, key=key)
        grant.save(force_insert=True)
        data = {
            "grant": str(grant.uid),
            "embargo": str(embargo.uid),
            "expires_at": grant.expires_at.isoformat() if grant.expires_at else None,
        }
        record(event=Event.BREAK_GLASS, actor=actor, target=report, data=data, ip=ip)
        told = {admin.pk for admin in User.objects.active_admins()} | {embargo.set_by_id}
        for user_id in sorted(told - {user.pk}):
            enqueue_on_commit(email_break_glass, grant.pk, user_id)
    return grant
