"""Changing who is on the team and what they may do, and a staff member's own profile."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction

from bastion.accounts.errors import TeamRuleError
from bastion.accounts.models import Role, User, validate_time_zone
from bastion.audit.events import Event
from bastion.audit.services import record


def change_role(*, actor: User, user: User, role: Role | str, ip: str | None = None) -> User:
    """Give ``user`` a new role; refuse to demote the last active admin."""
    _require_admin(actor)
    role = Role(role)
    with transaction.atomic():
        target = _lock_for_admin_rule(user)
        old = target.role
        if old == role:
            return target
        if old == Role.ADMIN and target.is_active:
            _keep_one_admin(target, actor, action="demote")
        target.role = role
        target.save(update_fields=["role"])
        record(
            event=Event.ROLE_CHANGED, actor=actor, target=target, data={"old": old, "new": role.value}, ip=ip
        )
    return target


def deactivate_staff(*, actor: User, user: User, ip: str | None = None) -> User:
    """Stop ``user`` from signing in; refuse for the last active admin.

    Their open sessions end on their next request: Django's auth backends treat an inactive user
    as signed out, so there is nothing to hunt down here.
    """
    _require_admin(actor)
    with transaction.atomic():
        target = _lock_for_admin_rule(user)
        if not target.is_active:
            return target
        if target.role == Role.ADMIN:
            _keep_one_admin(target, actor, action="deactivate")
        target.is_active = False
        target.save(update_fields=["is_active"])
        record(event=Event.STAFF_DEACTIVATED, actor=actor, target=target, data={"role": target.role}, ip=ip)
    return target


def reactivate_staff(*, actor: User, user: User, ip: str | None = None) -> User:
    """Let a deactivated staff member sign in again, with the role and MFA devices they had."""
    _require_admin(actor)
    with transaction.atomic():
        target = User.objects.select_for_update().get(pk=user.pk)
        if target.is_active:
            return target
        target.is_active = True
        target.save(update_fields=["is_active"])
        record(event=Event.STAFF_REACTIVATED, actor=actor, target=target, data={"role": target.role}, ip=ip)
    return target


def update_profile(*, actor: User, user: User, full_name: str, time_zone: str, ip: str | None = None) -> User:
    """Change a staff member's own name and time zone (audited with the names of changed fields)."""
    if actor.pk != user.pk:
        raise PermissionDenied("Staff edit only their own profile.")
    validate_time_zone(time_zone)
    values = {"full_name": full_name.strip(), "time_zone": time_zone}
    with transaction.atomic():
        target = User.objects.select_for_update().get(pk=user.pk)
        changed = sorted(name for name, value in values.items() if getattr(target, name) != value)
        if not changed:
            return target
        for name in changed:
            setattr(target, name, values[name])
        target.save(update_fields=changed)
        record(event=Event.PROFILE_UPDATED, actor=actor, target=target, data={"fields": changed}, ip=ip)
    return target


def _require_admin(actor: User) -> None:
    # Views check this first; services check again so no other caller can skip it.
    if not actor.is_admin:
        raise PermissionDenied("Only admins manage the team.")


def _lock_for_admin_rule(user: User) -> User:
    """Lock every active admin row, then return ``user`` fresh from the database.

    Race: two admins demoting each other at the same moment would each see "one other admin left"
    and both succeed, leaving none. Locking the admin rows first (PostgreSQL; SQLite already
    serialises writers from BEGIN) makes the second change wait and then count again.
    """
    list(User.objects.active_admins().select_for_update().values_list("pk", flat=True))
    return User.objects.select_for_update().get(pk=user.pk)


def _keep_one_admin(target: User, actor: User, *, action: str) -> None:
    if User.objects.active_admins().exclude(pk=target.pk).exists():
        return
    if target.pk == actor.pk:
        message = (
            f"You cannot {action} yourself: you are the last active admin. "
            "Make another staff member an admin first."
        )
    else:
        message = f"{target.email} is the last active admin. Make another staff member an admin first."
    raise TeamRuleError(message, code="last_admin")
