"""allauth, fitted to a staff-only product: no signup, axes-aware rate limits, MFA that cannot be dropped."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from allauth.core import context as allauth_context
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.mail import EmailMessage
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from bastion.audit.events import Event
from bastion.audit.services import record
from bastion.lib.emails import AUTOMATIC_HEADERS
from bastion.vault.envelope import open_secret, seal_secret

# allauth's encrypt() gets the bare secret, not the authenticator, so the AAD can only name the
# purpose; a seed moved to another user's row would still open (writing rows is already game over).
MFA_SECRET_PURPOSE = "accounts.mfa_secret"  # noqa: S105 - a key-derivation label, not a password


class StaffAccountAdapter(DefaultAccountAdapter):
    """Staff are invite-only; links in mail use BASE_URL; a locked account hears it from axes."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts come from the setup link (first admin) or an admin's invitation, never a form.
        return False

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        # allauth counts failures per address and, past its limit, refuses before authenticating,
        # so axes never sees the attempt and the visitor gets a vague "too many attempts" instead
        # of the lockout page. For an account axes has already locked, skip allauth's counter and
        # let the attempt reach the AxesBackend, which refuses it and shows the lockout page.
        if not AxesProxyHandler.is_allowed(request, credentials):
            return
        super().pre_authenticate(request, **credentials)

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        # allauth asks for the password again before any MFA change. During the enrolment we
        # force on a new account, moments after signing in (or setting the password from a setup
        # or invitation link), that only adds friction: the session proved the password within
        # the reauthentication window already. Any later change asks as usual.
        if app == "allauth.mfa" and _enrolling_in_a_fresh_session():
            return False
        return super().is_reauthentication_required(app=app, **kwargs)

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        # The product's name and public origin in allauth's mail, not the request's host name.
        super().send_mail(
            template_prefix,
            email,
            {"site_name": settings.SITE_NAME, "base_url": settings.BASE_URL, **context},
        )

    def render_mail(
        self,
        template_prefix: str,
        email: str | list[str],
        context: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> EmailMessage:
        # Marked automatic (RFC 3834) like the rest of Bastion's mail, so auto-responders stay quiet.
        message = super().render_mail(template_prefix, email, context, headers=headers)
        message.extra_headers = {**AUTOMATIC_HEADERS, **message.extra_headers}
        return message

    def get_reset_password_from_key_url(self, key: str) -> str:
        # Built from BASE_URL, not the request's Host header: a reset link must always point at
        # the real instance, whatever host name the request came in on.
        path = reverse("account_reset_password_from_key", kwargs={"uidb36": "UID", "key": "KEY"})
        return settings.BASE_URL + path.replace("UID-KEY", quote(key))

    def send_password_reset_mail(self, user: Any, email: str, context: dict[str, Any]) -> None:
        request = context.get("request")
        ip = get_client_ip_address(request) if request is not None else None
        requester = getattr(request, "user", None)
        actor = requester if requester is not None and requester.is_authenticated else AnonymousUser()
        # Audited before sending: the request is the event, whether or not the mail gets through.
        record(event=Event.PASSWORD_RESET_REQUESTED, actor=actor, target=user, ip=ip)
        super().send_password_reset_mail(user, email, context)


class StaffMFAAdapter(DefaultMFAAdapter):
    """MFA is mandatory (the last authenticator app or security key cannot be removed), and TOTP
    seeds and recovery-code seeds are sealed at rest under the vault's master key.

    allauth's default stores them in clear in the database, so a copy of the database (or of a
    backup) would hand over every staff member's second factor.
    """

    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "cannot_delete_authenticator": _(
            "Two-factor authentication is required for staff. "
            "Add a passkey or security key before removing your authenticator app."
        ),
    }

    def encrypt(self, text: str) -> str:
        token = seal_secret(text.encode("utf-8"), purpose=MFA_SECRET_PURPOSE, aad=b"")
        return base64.urlsafe_b64encode(token).decode("ascii")

    def decrypt(self, encrypted_text: str) -> str:
        token = base64.urlsafe_b64decode(encrypted_text.encode("ascii"))
        return open_secret(token, purpose=MFA_SECRET_PURPOSE, aad=b"").decode("utf-8")

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        others = Authenticator.objects.filter(user_id=authenticator.user_id).exclude(pk=authenticator.pk)
        return others.exclude(type=Authenticator.Type.RECOVERY_CODES).exists()


def _enrolling_in_a_fresh_session() -> bool:
    """True while a user who signed in with no second factor sets one up, soon after signing in.

    The session started without any authenticator (so its sign-in was password-only, exactly what
    reauthentication would ask again), and it began less than ACCOUNT_REAUTHENTICATION_TIMEOUT ago.
    That covers the whole onboarding: activate TOTP, see the recovery codes, add a passkey.
    """
    request = allauth_context.request
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    records = get_authentication_records(request, user)
    if not records:
        return False
    signed_in_at = min(float(entry.get("at", 0)) for entry in records)
    if time.time() - signed_in_at >= settings.ACCOUNT_REAUTHENTICATION_TIMEOUT:
        return False
    started = datetime.fromtimestamp(signed_in_at, tz=UTC)
    return not Authenticator.objects.filter(user_id=user.pk, created_at__lt=started).exists()
