"""Signal receivers that turn sign-in, password and MFA events into audit rows. Nothing else.

Django, allauth and allauth.mfa announce these events; each receiver only translates one into a
``record(...)`` call. No passwords, codes or tokens ever reach the audit data: only the typed
login, the kind of authenticator, and ids.
"""

from __future__ import annotations

from typing import Any

from allauth.account import signals as account_signals
from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa import signals as mfa_signals
from allauth.mfa.models import Authenticator
from axes.helpers import get_client_ip_address
from django.contrib.auth import signals as auth_signals
from django.http import HttpRequest

from bastion.accounts.lockout import username_from_request
from bastion.accounts.models import User
from bastion.audit.events import Event
from bastion.audit.services import Actor, record


def _ip(request: HttpRequest | None) -> str | None:
    if request is None or "REMOTE_ADDR" not in request.META:
        return None
    return get_client_ip_address(request)


def _signed_in(request: HttpRequest | None) -> bool:
    return (
        request is not None and getattr(request, "user", None) is not None and request.user.is_authenticated
    )


def on_logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    methods = []
    if request is not None and hasattr(request, "session"):
        for entry in get_authentication_records(request, user):
            methods.append(":".join(str(part) for part in (entry.get("method"), entry.get("type")) if part))
    record(event=Event.LOGIN_SUCCEEDED, actor=user, target=user, data={"methods": methods}, ip=_ip(request))


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Django has already masked the password in ``credentials``; only the login is read.
    login = username_from_request(request, credentials) or ""
    target = User.objects.filter(email=login).first() if login else None
    if _signed_in(request):
        # A wrong password while confirming access (reauthentication) by a signed-in user.
        assert request is not None
        data = {"login": login, "reauthentication": True}
        record(event=Event.LOGIN_FAILED, actor=request.user, target=target, data=data, ip=_ip(request))
    else:
        data = {"login": login}
        record(
            event=Event.LOGIN_FAILED, actor=Actor.claimed(login), target=target, data=data, ip=_ip(request)
        )


def on_logged_out(sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    if user is None:  # the session had already expired: nobody to attribute it to
        return
    record(event=Event.LOGOUT, actor=user, target=user, ip=_ip(request))


def on_authentication_step(sender: Any, request: HttpRequest, user: User, method: str, **kwargs: Any) -> None:
    # Every step of every sign-in comes through here; only re-confirmations are their own event
    # (a completed sign-in is LOGIN_SUCCEEDED).
    if not kwargs.get("reauthenticated"):
        return
    data = {"method": method, "type": kwargs.get("type", "")}
    record(event=Event.REAUTHENTICATED, actor=user, target=user, data=data, ip=_ip(request))


def on_password_changed(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    record(event=Event.PASSWORD_CHANGED, actor=user, target=user, ip=_ip(request))


def on_password_reset(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    # The actor is the account owner: following the mailed link proves control of its mailbox.
    record(event=Event.PASSWORD_RESET, actor=user, target=user, ip=_ip(request))


def on_authenticator_added(
    sender: Any, request: HttpRequest, user: User, authenticator: Authenticator, **kwargs: Any
) -> None:
    event = (
        Event.RECOVERY_CODES_GENERATED
        if authenticator.type == Authenticator.Type.RECOVERY_CODES
        else Event.MFA_ENABLED
    )
    data = {"type": authenticator.type, "authenticator": authenticator.pk}
    record(event=event, actor=user, target=user, data=data, ip=_ip(request))


def on_authenticator_removed(
    sender: Any, request: HttpRequest, user: User, authenticator: Authenticator, **kwargs: Any
) -> None:
    data = {"type": authenticator.type, "authenticator": authenticator.pk}
    record(event=Event.MFA_REMOVED, actor=user, target=user, data=data, ip=_ip(request))


def on_authenticator_reset(
    sender: Any, request: HttpRequest, user: User, authenticator: Authenticator, **kwargs: Any
) -> None:
    # allauth "resets" an authenticator only to regenerate recovery codes.
    data = {"type": authenticator.type, "authenticator": authenticator.pk}
    record(event=Event.RECOVERY_CODES_GENERATED, actor=user, target=user, data=data, ip=_ip(request))


def on_mfa_failed(
    sender: Any, request: HttpRequest, user: User, authenticator: Authenticator, **kwargs: Any
) -> None:
    reauthentication = bool(kwargs.get("reauthentication"))
    # During sign-in the password was right but the session is not signed in yet: the actor is
    # a claim, not the account.
    actor = user if _signed_in(request) else Actor.claimed(user.email)
    data = {"type": authenticator.type, "reauthentication": reauthentication}
    record(event=Event.MFA_FAILED, actor=actor, target=user, data=data, ip=_ip(request))


_RECEIVERS = [
    (auth_signals.user_logged_in, on_logged_in),
    (auth_signals.user_login_failed, on_login_failed),
    (auth_signals.user_logged_out, on_logged_out),
    (account_signals.authentication_step_completed, on_authentication_step),
    (account_signals.password_changed, on_password_changed),
    (account_signals.password_reset, on_password_reset),
    (mfa_signals.authenticator_added, on_authenticator_added),
    (mfa_signals.authenticator_removed, on_authenticator_removed),
    (mfa_signals.authenticator_reset, on_authenticator_reset),
    (mfa_signals.authentication_failed, on_mfa_failed),
]


def connect() -> None:
    """Connect every receiver once (called from ``AccountsConfig.ready``)."""
    for signal, receiver in _RECEIVERS:
        signal.connect(receiver, dispatch_uid=f"bastion.accounts.{receiver.__name__}")
