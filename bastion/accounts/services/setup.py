"""The first admin: a one-time setup link printed on the console, and the account it creates."""

from __future__ import annotations

from datetime import timedelta
from typing import NoReturn

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from bastion.accounts import tokens
from bastion.accounts.errors import LinkRejected
from bastion.accounts.models import Role, SetupLink, User
from bastion.audit.events import Event
from bastion.audit.services import record

Visitor = User | AnonymousUser | None


class _Lost(Exception):
    """The link was fine when we looked, but someone else got there first (see complete_setup)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def issue_setup_link(*, actor: User | None = None) -> str | None:
    """A fresh setup link (absolute URL), or None when an active staff account already exists.

    Issuing a link voids any older unused one, so at most one link can claim the instance: the one
    printed last. ``bastion run`` calls this at start-up and prints the result.
    """
    with transaction.atomic():
        if User.objects.active().exists():
            return None
        now = timezone.now()
        SetupLink.objects.usable(now).update(expires_at=now)
        token = tokens.new_setup_token()
        link = SetupLink.objects.create(
            token_hash=tokens.hash_setup_token(token),
            created_at=now,
            expires_at=now + timedelta(hours=settings.SETUP_LINK_HOURS),
        )
        record(
            event=Event.SETUP_LINK_ISSUED,
            actor=actor,
            target=link,
            data={"expires_at": link.expires_at.isoformat(), "valid_hours": settings.SETUP_LINK_HOURS},
        )
    return settings.BASE_URL + reverse("accounts:setup", args=[token])


def open_setup_link(*, token: str, actor: Visitor, ip: str | None = None) -> SetupLink:
    """The usable link for ``token``; otherwise audit the refusal and raise LinkRejected."""
    link: SetupLink | None = None
    if not tokens.is_well_formed_setup_token(token):
        reason = "malformed"
    else:
        link = SetupLink.objects.filter(token_hash=tokens.hash_setup_token(token)).first()
        reason = _problem(link)
    if reason:
        _reject(reason, link=link, actor=actor, ip=ip)
    assert link is not None  # a link with no problem exists
    return link


def complete_setup(
    *, token: str, email: str, full_name: str, password: str, actor: Visitor, ip: str | None = None
) -> User:
    """Spend the setup link on a new admin account, once, and return the account.

    Race: two people submitting the same link at the same moment both pass the check in
    ``open_setup_link``. The conditional UPDATE below is the real claim: only the transaction that
    flips ``used_at`` from NULL creates an account; the other rolls back and is refused.
    """
    link = open_setup_link(token=token, actor=actor, ip=ip)
    user = User(email=email, full_name=full_name.strip(), role=Role.ADMIN)
    # Hashed before the transaction: Argon2 is deliberately slow, and SQLite holds its write lock
    # from BEGIN (transaction_mode IMMEDIATE).
    user.set_password(password)
    try:
        with transaction.atomic():
            now = timezone.now()
            claimed = SetupLink.objects.filter(pk=link.pk).usable(now).update(used_at=now)
            if claimed != 1:
                raise _Lost("used")
            if User.objects.active().exists():
                raise _Lost("admin_exists")
            user.save()
            record(event=Event.SETUP_COMPLETED, actor=user, target=user, data={"setup_link": link.pk}, ip=ip)
    except _Lost as lost:
        # Recorded outside the rolled-back transaction, so the refusal itself is kept.
        _reject(lost.reason, link=link, actor=actor, ip=ip)
    return user


def _problem(link: SetupLink | None) -> str:
    if link is None:
        return "unknown"
    if link.used_at is not None:
        return "used"
    if link.is_expired():
        return "expired"
    if User.objects.active().exists():
        return "admin_exists"
    return ""


def _reject(reason: str, *, link: SetupLink | None, actor: Visitor, ip: str | None) -> NoReturn:
    record(event=Event.SETUP_LINK_REJECTED, actor=actor, target=link, data={"reason": reason}, ip=ip)
    raise LinkRejected("setup", reason)
