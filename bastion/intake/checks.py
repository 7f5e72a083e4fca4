"""Start-up checks for intake: a malformed flood limit stops Bastion instead of disabling the limit."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from bastion.intake.flood import Scope, limit_for


@register()
def check_flood_limits(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Every ``INTAKE_LIMIT_*`` and ``MAIL_LIMIT_*`` setting parses as ``count/seconds``."""
    problems = []
    for scope in Scope:
        try:
            limit_for(scope)
        except ImproperlyConfigured as exc:
            problems.append(
                Error(str(exc), hint="Write it as count/seconds, e.g. 10/3600.", id="intake.E001")
            )
    return problems
