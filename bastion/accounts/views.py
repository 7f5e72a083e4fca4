"""Account pages: first-admin setup, accepting an invitation, the Team page and the profile.

Each view loads, validates, calls one service and renders or redirects. Team actions are POSTs by
admins who confirmed their password (or second factor) within ACCOUNT_REAUTHENTICATION_TIMEOUT.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from allauth.account.decorators import reauthentication_required
from allauth.account.internal.flows.login import record_authentication
from allauth.mfa.models import Authenticator
from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from bastion.accounts import services
from bastion.accounts.errors import LinkRejected
from bastion.accounts.forms import AcceptInvitationForm, InviteForm, ProfileForm, RoleForm, SetupForm
from bastion.accounts.models import Invitation, Role, User
from bastion.accounts.permissions import admin_required
from bastion.accounts.token_views import api_token_section

# The backend that signs in the account a setup or invitation link has just created.
_LOGIN_BACKEND = "allauth.account.auth_backends.AuthenticationBackend"


def setup(request: HttpRequest, token: str) -> HttpResponse:
    """Create the first admin from a one-time setup link, sign them in, and send them to MFA."""
    ip = get_client_ip_address(request)
    try:
        services.open_setup_link(token=token, actor=request.user, ip=ip)
        form = SetupForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            user = services.complete_setup(
                token=token,
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
                actor=request.user,
                ip=ip,
            )
            return _sign_in_and_enrol(request, user)
    except LinkRejected as rejection:
        return _rejected(request, rejection)
    return render(request, "accounts/setup.html", {"form": form})


def accept_invitation(request: HttpRequest, invitation_id: int, token: str) -> HttpResponse:
    """Create an invited account (name and password), sign it in, and send it to MFA enrolment."""
    ip = get_client_ip_address(request)
    try:
        invitation = services.open_invitation(
            invitation_id=invitation_id, token=token, actor=request.user, ip=ip
        )
        form = AcceptInvitationForm(request.POST or None, email=invitation.email)
        if request.method == "POST" and form.is_valid():
            user = services.accept_invitation(
                invitation_id=invitation_id,
                token=token,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
                actor=request.user,
                ip=ip,
            )
            return _sign_in_and_enrol(request, user)
    except LinkRejected as rejection:
        return _rejected(request, rejection)
    return render(request, "accounts/accept_invitation.html", {"form": form, "invitation": invitation})


@admin_required
def team(request: HttpRequest) -> HttpResponse:
    """Staff (role, MFA, last sign-in, active) and pending invitations, with the invite form."""
    second_factors = Q(authenticator__type__in=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN])
    staff = User.objects.annotate(factors=Count("authenticator", filter=second_factors)).order_by(
        "-is_active", "email"
    )
    context = {
        "staff": staff,
        "invitations": Invitation.objects.open().select_related("invited_by"),
        "invite_form": InviteForm(),
        "role_form": RoleForm(),
    }
    return render(request, "accounts/team.html", context)


@require_POST
@admin_required
@reauthentication_required
def invite(request: HttpRequest) -> HttpResponse:
    """Invite a new staff member by e-mail."""
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for errors in form.errors.values() for error in errors))
        return redirect("accounts:team")
    email, role = form.cleaned_data["email"], form.cleaned_data["role"]
    with _reported(request, success=f"Invitation sent to {email}."):
        services.invite_staff(
            actor=_staff(request), email=email, role=role, ip=get_client_ip_address(request)
        )
    return redirect("accounts:team")


@require_POST
@admin_required
@reauthentication_required
def change_role(request: HttpRequest, user_id: int) -> HttpResponse:
    """Give a staff member another role (never leaving the team without an active admin)."""
    member = get_object_or_404(User, pk=user_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the listed roles.")
        return redirect("accounts:team")
    role = Role(form.cleaned_data["role"])
    with _reported(request, success=f"{member.email} is now {role.label}."):
        services.change_role(actor=_staff(request), user=member, role=role, ip=get_client_ip_address(request))
    return redirect("accounts:team")


@require_POST
@admin_required
@reauthentication_required
def deactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    """Stop a staff member from signing in."""
    return _on_member(request, user_id, services.deactivate_staff, success="{email} can no longer sign in.")


@require_POST
@admin_required
@reauthentication_required
def reactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    """Let a deactivated staff member sign in again."""
    return _on_member(request, user_id, services.reactivate_staff, success="{email} can sign in again.")


@require_POST
@admin_required
@reauthentication_required
def revoke_invitation(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """Withdraw a pending invitation."""
    invitation = get_object_or_404(Invitation, pk=invitation_id)
    with _reported(request, success=f"The invitation for {invitation.email} was withdrawn."):
        services.revoke_invitation(
            actor=_staff(request), invitation=invitation, ip=get_client_ip_address(request)
        )
    return redirect("accounts:team")


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """The signed-in staff member's name, time zone, MFA devices, password link and API tokens."""
    user = _staff(request)
    form = ProfileForm(
        request.POST or None, initial={"full_name": user.full_name, "time_zone": user.time_zone}
    )
    if request.method == "POST" and form.is_valid():
        services.update_profile(
            actor=user,
            user=user,
            full_name=form.cleaned_data["full_name"],
            time_zone=form.cleaned_data["time_zone"],
            ip=get_client_ip_address(request),
        )
        messages.success(request, "Your profile was saved.")
        return redirect("accounts:profile")
    authenticators = Authenticator.objects.filter(user_id=user.pk).order_by("type", "created_at")
    context = {"form": form, "authenticators": authenticators, **api_token_section(user)}
    return render(request, "accounts/profile.html", context)


def _staff(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # every caller is behind a sign-in check
    return user


def _on_member(
    request: HttpRequest, user_id: int, act: Callable[..., object], *, success: str
) -> HttpResponse:
    """A team action on one staff member: ``act`` as this admin, its outcome flashed, back to the Team page.

    ``success`` is the message, with ``{email}`` standing for the member's address.
    """
    member = get_object_or_404(User, pk=user_id)
    with _reported(request, success=success.format(email=member.email)):
        act(actor=_staff(request), user=member, ip=get_client_ip_address(request))
    return redirect("accounts:team")


@contextmanager
def _reported(request: HttpRequest, *, success: str) -> Iterator[None]:
    """Turn the outcome of a team action into a flash message: a broken rule, or ``success``."""
    try:
        yield
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, success)


def _sign_in_and_enrol(request: HttpRequest, user: User) -> HttpResponse:
    login(request, user, backend=_LOGIN_BACKEND)
    # Tell allauth this session just proved the password (it was set seconds ago), so enrolling
    # the first authenticator does not ask for it again (see StaffAccountAdapter).
    record_authentication(request, user, method="password", email=user.email)
    messages.success(request, "Your account is ready. Now set up two-factor authentication.")
    return redirect("mfa_activate_totp")


def _rejected(request: HttpRequest, rejection: LinkRejected) -> HttpResponse:
    context = {"headline": rejection.headline, "advice": rejection.advice, "kind": rejection.kind}
    return render(request, "accounts/link_rejected.html", context, status=rejection.status)
