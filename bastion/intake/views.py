"""Intake's pages: the public security policy, the org key, the challenge; and the policy editor.

The public views need no account and record nothing: reading a published policy or a public key
is not an event worth an append-only row (and a crawler would fill the trail with them).
"""

from __future__ import annotations

from functools import lru_cache

from allauth.account.decorators import reauthentication_required
from axes.helpers import get_client_ip_address
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_http_methods

from bastion.accounts.models import User
from bastion.accounts.permissions import admin_required
from bastion.intake import services
from bastion.intake.challenge import new_challenge
from bastion.intake.forms import PolicyForm
from bastion.intake.stats_views import stats_published
from bastion.lib.markdown import render_markdown

# Policy text sits under the page's <h1> and beside its own <h2> sections ("Scope", ...).
_POLICY_TOP_HEADING = 2
# The public key changes only on rotation: an hour in shared caches is plenty, and still lets a
# rotated key reach clients the same day.
_KEY_MAX_AGE = 3600


@lru_cache(maxsize=32)
def _policy_markdown(text: str, top_heading: int) -> SafeString:
    """Rendered policy text. Keyed by the text itself, so it can never serve a stale rendering;
    the public page is the one anyone may hit at will, and rendering it all costs about 5 ms."""
    return render_markdown(text, top_heading=top_heading)


def _grouped(fingerprint: str) -> str:
    """``ABCD1234...`` as ``ABCD 1234 ...``, the way people compare fingerprints aloud."""
    return " ".join(fingerprint[i : i + 4] for i in range(0, len(fingerprint), 4))


@require_GET
def policy(request: HttpRequest) -> HttpResponse:
    """The vulnerability disclosure policy in force, how to reach us, and the org key."""
    current = services.current_policy()
    key = services.org_public_key()
    context = {
        "policy": current,
        "body": _policy_markdown(current.body, _POLICY_TOP_HEADING),
        "scope": _policy_markdown(current.scope, _POLICY_TOP_HEADING + 1),
        "safe_harbor": _policy_markdown(current.safe_harbor, _POLICY_TOP_HEADING + 1),
        "fix_targets": _policy_markdown(current.fix_targets, _POLICY_TOP_HEADING + 1),
        "key": key,
        "fingerprint": _grouped(key.fingerprint),
        "contact_email": settings.DEFAULT_FROM_EMAIL,
        "stats_published": stats_published(),
    }
    return render(request, "intake/policy.html", context)


@require_GET
def security_key(request: HttpRequest) -> HttpResponse:
    """The org's public OpenPGP key, ASCII-armored (what security.txt's Encryption field names)."""
    key = services.org_public_key()
    response = HttpResponse(key.armored_public(), content_type="application/pgp-keys")
    response["Content-Disposition"] = 'inline; filename="security-key.asc"'
    patch_cache_control(response, public=True, max_age=_KEY_MAX_AGE)
    return response


@require_GET
def challenge(request: HttpRequest) -> JsonResponse:
    """A fresh proof-of-work challenge for the browser solver (``static/intake/altcha-solver.js``)."""
    response = JsonResponse(new_challenge())
    # Each challenge is single-use: no cache may hand the same one to two visitors.
    patch_cache_control(response, no_store=True)
    return response


@require_http_methods(["GET", "POST"])
@admin_required
@reauthentication_required(allow_get=True)
def edit_policy(request: HttpRequest) -> HttpResponse:
    """Edit the policy: the form starts from the version in force, and saving publishes the next one.

    Publishing asks for a recent password (or second factor) confirmation, like every sensitive
    admin action. If it has lapsed while the admin was writing, allauth keeps the POST, asks, and
    then replays it, so no text is lost.
    """
    current = services.current_policy()
    form = PolicyForm(request.POST or None, initial=services.policy_fields(current))
    if request.method == "POST" and form.is_valid():
        user = request.user
        assert isinstance(user, User)  # admin_required let only staff through
        try:
            published = services.publish_policy(
                actor=user, ip=get_client_ip_address(request), **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Version {published.version} of the policy is now published.")
            return redirect("intake:policy")
    return render(request, "intake/policy_edit.html", {"form": form, "policy": current})
