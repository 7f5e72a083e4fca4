"""Inviting staff: an admin invites an address with a role; the link in the mail creates the account."""

from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from bastion.accounts import tokens
from bastion.accounts.errors import LinkRejected, TeamRuleError
from bastion.accounts.models import Invitation, Role, User, normalize_email_address
from bastion.accounts.tasks import send_staff_invitation
from bastion.audit.events import Event
from bastion.audit.services import record
from bastion.worker.queue import enqueue_on_commit

Visitor = User | AnonymousUser | None


class _Lost(Exception):
    """The invitation was fine when we looked, but it was spent or withdrawn before we claimed it."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def invite_staff(*, actor: User, email: str, role: Role | str, ip: str | None = None) -> Invitation:
    """Invite ``email`` to join with ``role``; the mail goes out after commit, from a task.

    An open invitation for the same address is revoked first (re-inviting is how an admin resends
    or changes the role), so at most one link per address works at any time.
    """
    _require_admin(actor)
    email = normalize_email_address(email)
    role = Role(role)
    if User.objects.filter(email=email).exists():
        raise TeamRuleError("A staff account with this address already exists.", code="account_exists")
    try:
        with transaction.atomic():
            now = timezone.now()
            for old in Invitation.objects.open().filter(email=email).select_for_update():
                old.revoked_at = now
                old.save(update_fields=["revoked_at"])
                data = {"email": email, "reason": "superseded"}
                record(event=Event.INVITATION_REVOKED, actor=actor, target=old, data=data, ip=ip)
            invitation = Invitation.objects.create(
                email=email,
                role=role,
                invited_by=actor,
                created_at=now,
                expires_at=now + timedelta(days=settings.INVITATION_DAYS),
            )
            data = {"email": email, "role": role.value}
            record(event=Event.INVITATION_SENT, actor=actor, target=invitation, data=data, ip=ip)
            enqueue_on_commit(send_staff_invitation, invitation.pk)
    except IntegrityError:
        # The partial unique constraint: another admin invited this address at the same moment.
        raise TeamRuleError("This address was invited a moment ago by someone else.", code="race") from None
    return invitation


def open_invitation(*, invitation_id: int, token: str, actor: Visitor, ip: str | None = None) -> Invitation:
    """The pending invitation behind a link; otherwise audit the refusal and raise LinkRejected."""
    invitation: Invitation | None = None
    if not tokens.is_well_formed_invitation_token(token):
        reason = "malformed"
    else:
        invitation = Invitation.objects.filter(pk=invitation_id).first()
        if invitation is None:
            reason = "unknown"
        elif not invitation.token_matches(token):
            # Same answer as "unknown": a wrong token must not confirm that the id exists.
            reason = "bad_token"
        else:
            reason = _problem(invitation)
    if reason:
        _reject(reason, invitation=invitation, actor=actor, ip=ip)
    assert invitation is not None  # an invitation with no problem exists
    return invitation


def accept_invitation(
    *, invitation_id: int, token: str, full_name: str, password: str, actor: Visitor, ip: str | None = None
) -> User:
    """Create the invited account (active, with the invited role) and close the invitation.

    Race: the same link submitted twice, or accepted while an admin revokes it. The conditional
    UPDATE is the claim; only the transaction that sets ``accepted_at`` on a still-open, unexpired
    row creates the account.
    """
    invitation = open_invitation(invitation_id=invitation_id, token=token, actor=actor, ip=ip)
    user = User(email=invitation.email, full_name=full_name.strip(), role=invitation.role)
    # Hashed before the transaction: Argon2 is slow on purpose, and SQLite locks from BEGIN.
    user.set_password(password)
    try:
        with transaction.atomic():
            now = timezone.now()
            claimed = Invitation.objects.filter(pk=invitation.pk).pending(now).update(accepted_at=now)
            if claimed != 1:
                raise _Lost("used")
            if User.objects.filter(email=invitation.email).exists():
                raise _Lost("account_exists")
            user.save()
            Invitation.objects.filter(pk=invitation.pk).update(accepted_user=user)
            data = {"email": user.email, "role": user.role, "invited_by": invitation.invited_by_id}
            record(event=Event.INVITATION_ACCEPTED, actor=user, target=invitation, data=data, ip=ip)
    except _Lost as lost:
        invitation.refresh_from_db()
        _reject(_problem(invitation) or lost.reason, invitation=invitation, actor=actor, ip=ip)
    return user


def revoke_invitation(*, actor: User, invitation: Invitation, ip: str | None = None) -> None:
    """Withdraw an open invitation so its link stops working."""
    _require_admin(actor)
    with transaction.atomic():
        revoked = Invitation.objects.filter(pk=invitation.pk).open().update(revoked_at=timezone.now())
        if revoked != 1:
            raise TeamRuleError("This invitation was already accepted or withdrawn.", code="closed")
        data = {"email": invitation.email, "reason": "revoked"}
        record(event=Event.INVITATION_REVOKED, actor=actor, target=invitation, data=data, ip=ip)


def _require_admin(actor: User) -> None:
    # Views check this first; services check again so no other caller can skip it.
    if not actor.is_admin:
        raise PermissionDenied("Only admins manage the team.")


def _problem(invitation: Invitation) -> str:
    status = invitation.status()
    if status == Invitation.Status.ACCEPTED:
        return "used"
    if status == Invitation.Status.REVOKED:
        return "revoked"
    if status == Invitation.Status.EXPIRED:
        return "expired"
    if User.objects.filter(email=invitation.email).exists():
        return "account_exists"
    return ""


def _reject(reason: str, *, invitation: Invitation | None, actor: Visitor, ip: str | None) -> NoReturn:
    record(event=Event.INVITATION_REJECTED, actor=actor, target=invitation, data={"reason": reason}, ip=ip)
    raise LinkRejected("invitation", "unknown" if reason == "bad_token" else reason)
