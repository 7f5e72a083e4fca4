"""Per-request rules for signed-in staff: MFA is mandatory, and dates follow their time zone."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from typing import Any

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

# What a signed-in user without a second factor may still open: the enrolment pages themselves
# (an authenticator app, or a passkey / security key), confirming their password (allauth asks for
# it before adding an authenticator), signing out, and the health probe.
ALLOWED_WITHOUT_MFA = frozenset(
    {
        "mfa_index",
        "mfa_activate_totp",
        "mfa_add_webauthn",
        "mfa_reauthenticate",
        "mfa_reauthenticate_webauthn",
        "account_reauthenticate",
        "account_logout",
        "healthz",
    }
)
ENROLMENT_URL_NAME = "mfa_activate_totp"


def has_second_factor(user: Any) -> bool:
    """An authenticator app or a security key; recovery codes alone are a fallback, not a factor."""
    return (
        Authenticator.objects.filter(user_id=user.pk).exclude(type=Authenticator.Type.RECOVERY_CODES).exists()
    )


class RequireMFAMiddleware:
    """Send any signed-in user without a second factor to TOTP enrolment.

    The check runs in ``process_view``, after URL resolution, so the allow-list names URL patterns
    rather than path prefixes that a new route could accidentally fall under. It costs one indexed
    EXISTS query per signed-in request, which keeps it right the moment a factor is removed.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated:
            return None
        if request.path_info.startswith(settings.STATIC_URL):
            return None
        match = request.resolver_match
        if match is not None and match.view_name in ALLOWED_WITHOUT_MFA:
            return None
        if has_second_factor(user):
            return None
        messages.warning(
            request,
            "Two-factor authentication is required for every staff account. "
            "Set up an authenticator app (or add a passkey) to continue.",
        )
        return HttpResponseRedirect(reverse(ENROLMENT_URL_NAME))


class UserTimeZoneMiddleware:
    """Render dates in the signed-in staff member's time zone (set on their profile).

    Storage stays UTC (USE_TZ); only display changes. Anonymous pages use TIME_ZONE.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                # A zone this machine no longer knows (tzdata changed): fall back, never fail.
                timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
