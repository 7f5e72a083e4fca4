"""The API-token section of the profile page: list, create (the token shown once), revoke.

Creating a token asks for the password (or second factor) again if it was not confirmed in the
last few minutes: a token opens the API without MFA for as long as it lives, so a borrowed or
hijacked session must not be able to mint one quietly. Revoking needs no such step.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from allauth.account.decorators import reauthentication_required
from axes.helpers import get_client_ip_address
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from bastion.accounts.models import ApiScope, ApiToken, User
from bastion.accounts.services.api_tokens import (
    MAX_NAME,
    ApiTokenRejected,
    create_api_token,
    revoke_api_token,
)

# Days a new token lives; "" is no expiry (revoke it by hand).
EXPIRY_CHOICES = [("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("", "No expiry")]


class ApiTokenForm(forms.Form):
    """A new token's name, scopes and lifetime."""

    name = forms.CharField(
        max_length=MAX_NAME, label="Name", help_text="Where it will be used, e.g. “CI sync”."
    )
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple, label="Scopes"
    )
    expires_in = forms.ChoiceField(choices=EXPIRY_CHOICES, initial="90", required=False, label="Expires in")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        kwargs.setdefault("prefix", "api_token")
        super().__init__(*args, **kwargs)

    def expires_at(self) -> Any:
        days = self.cleaned_data.get("expires_in")
        return timezone.now() + timedelta(days=int(days)) if days else None


def api_token_section(user: User) -> dict[str, Any]:
    """The profile page's context for this section: the user's tokens, newest first, and the form."""
    tokens = list(user.api_tokens.all())
    return {"api_tokens": tokens, "api_token_form": ApiTokenForm(), "now": timezone.now()}


@never_cache
@require_POST
@login_required
@reauthentication_required
def create(request: HttpRequest) -> HttpResponse:
    """Make a token and show it once, on a page that is never cached; a bad form goes back to the profile."""
    user = _staff(request)
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        try:
            token, plaintext = create_api_token(
                user=user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=form.expires_at(),
                actor=user,
                ip=get_client_ip_address(request),
            )
        except ApiTokenRejected as error:
            form.add_error(None, error.messages)
        else:
            # Rendered, not redirected: the plaintext must not be parked in the session (stored
            # server-side) or in a URL. A reload re-posts the form and would make a second token,
            # which the browser warns about; never_cache keeps the page out of every cache.
            context = {"token": token, "plaintext": plaintext}
            return render(request, "accounts/api_token_created.html", context)
    # As the Team page does: the errors as one message above the profile page.
    problems = [
        f"{_label(form, field)}: {' '.join(map(str, errors))}" for field, errors in form.errors.items()
    ]
    messages.error(request, "The API token was not created. " + " ".join(problems))
    return redirect("accounts:profile")


def _label(form: ApiTokenForm, field: str) -> str:
    return str(form.fields[field].label) if field in form.fields else "Token"


@require_POST
@login_required
def revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    """Revoke one of the signed-in user's own tokens (someone else's is a 404)."""
    user = _staff(request)
    token = get_object_or_404(ApiToken, pk=token_id, user=user)
    revoke_api_token(token=token, actor=user, ip=get_client_ip_address(request))
    messages.success(request, f"The API token “{token.name}” ({token.prefix}…) no longer works.")
    return redirect("accounts:profile")


def _staff(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # every caller is behind login_required
    return user
