"""django-axes hooks: which account a sign-in attempt was for, and the page a locked account sees.

Settings wire these in (``AXES_USERNAME_CALLABLE``, ``AXES_LOCKOUT_CALLABLE``). Axes locks by
username (``AXES_LOCKOUT_PARAMETERS``), so it must learn the address that was typed: allauth's
form calls it ``login`` and passes it to ``authenticate()`` as ``email``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from axes.helpers import get_client_ip_address, get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bastion.accounts.models import User, normalize_email_address
from bastion.audit.events import Event
from bastion.audit.services import Actor, record

_LOGIN_KEYS = ("login", "email", "username")


def username_from_request(
    request: HttpRequest | None, credentials: Mapping[str, Any] | None = None
) -> str | None:
    """The typed sign-in address, normalised like stored addresses (so case can't dodge a lock)."""
    sources: list[Mapping[str, Any]] = [credentials or {}]
    if request is not None and request.method == "POST":
        sources.append(request.POST)
    for source in sources:
        for key in _LOGIN_KEYS:
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return normalize_email_address(value)
    return None


def locked_out(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The 403 page for a locked account, with an audit row for each refused attempt.

    axes calls this as ``(request, original_response, credentials)`` and falls back to the older
    ``(request, credentials)``; both shapes are accepted.
    """
    credentials = kwargs.get("credentials")
    if credentials is None:
        credentials = next((arg for arg in args if isinstance(arg, Mapping)), None)
    login = username_from_request(request, credentials)
    cool_off = get_cool_off(request)
    minutes = math.ceil(cool_off.total_seconds() / 60) if cool_off else None
    record(
        event=Event.LOGIN_LOCKED_OUT,
        actor=Actor.claimed(login or ""),
        target=User.objects.filter(email=login).first() if login else None,
        data={"login": login or "", "failure_limit": settings.AXES_FAILURE_LIMIT},
        ip=get_client_ip_address(request),
    )
    context = {"minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT}
    return render(request, "accounts/locked_out.html", context, status=403)
