"""System checks for what must hold in production (``bastion check --deploy``).

Django's own deploy checks speak in setting names; these name the ``BASTION_*`` variable to change.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}


@register(Tags.security, deploy=True)
def check_production_settings(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    """Flag the zero-config conveniences that are unsafe on a real deployment."""
    problems: list[Error | Warning] = []
    if settings.DEBUG:
        problems.append(
            Error(
                "Debug mode is on; error pages would show settings and request data.",
                hint="Unset BASTION_DEBUG (or set it to 0).",
                id="bastion.E001",
            )
        )
    if not settings.HTTPS:
        problems.append(
            Warning(
                "HTTPS is off: cookies are not marked Secure and there is no HSTS.",
                hint="Serve Bastion over TLS and set BASTION_HTTPS=1.",
                id="bastion.W001",
            )
        )
    if settings.SECRET_KEY_FROM_DATA_DIR:
        problems.append(
            Warning(
                "The secret key was generated inside the data directory, so every backup of that "
                "directory carries it.",
                hint="Store a random key elsewhere and point BASTION_SECRET_KEY_FILE at it.",
                id="bastion.W002",
            )
        )
    if set(settings.ALLOWED_HOSTS) <= LOOPBACK_HOSTS:
        problems.append(
            Warning(
                "Only loopback host names are allowed, so nobody else can reach this instance.",
                hint="Set BASTION_ALLOWED_HOSTS to the public host name.",
                id="bastion.W003",
            )
        )
    if settings.EMAIL_BACKEND == "bastion.lib.emails.OutboxBackend":
        problems.append(
            Warning(
                "Mail is written to the local outbox, not sent: reporters get no acknowledgement.",
                hint="Set BASTION_SMTP_HOST (and BASTION_SMTP_USER / BASTION_SMTP_PASSWORD_FILE).",
                id="bastion.W004",
            )
        )
    return problems
