"""The on-call rota: who is on duty, and who backs up whom when a response target is about to slip."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from bastion.accounts.models import User
from bastion.accounts.permissions import is_admin, is_triager
from bastion.audit.events import Event
from bastion.audit.services import record


def update_rota(*, member: User, on_duty: bool, backup: User | None, actor: User) -> User:
    """Set ``member``'s duty and backup. Staff set their own; admins set anyone's.

    The backup must be another active triager or admin (ValidationError naming ``backup``): an
    escalation sent to a viewer or a deactivated account would reach no one who can act.
    """
    if actor.pk != member.pk and not is_admin(actor):
        raise PermissionDenied("Only admins change someone else's rota.")
    if not is_triager(member):
        raise ValidationError({"member": "Only triagers and admins take part in the rota."})
    if backup is not None and (backup.pk == member.pk or not is_triager(backup)):
        raise ValidationError({"backup": "The backup must be another active triager or admin."})
    with transaction.atomic():
        User.objects.filter(pk=member.pk).update(on_duty=on_duty, backup=backup)
        member.on_duty, member.backup = on_duty, backup
        data = {"on_duty": on_duty, "backup": backup.pk if backup else None}
        record(event=Event.ROTA_UPDATED, actor=actor, target=member, data=data)
    return member


@dataclass(frozen=True)
class RotaChange:
    """One row of the rota page as submitted."""

    member: User
    on_duty: bool
    backup: User | None


def save_rota(*, changes: list[RotaChange], actor: User) -> None:
    """Apply every change or none: a refusal half-way would leave a rota nobody chose."""
    with transaction.atomic():
        for change in changes:
            update_rota(member=change.member, on_duty=change.on_duty, backup=change.backup, actor=actor)
