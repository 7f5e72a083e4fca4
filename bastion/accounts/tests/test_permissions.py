"""Role predicates and view decorators: anonymous → sign in, wrong role → 403."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse

from bastion.accounts.models import Role
from bastion.accounts.permissions import (
    admin_required,
    is_admin,
    is_staff_member,
    is_triager,
    role_required,
    triager_required,
)

pytestmark = pytest.mark.django_db


@triager_required
def triage_view(request):
    return HttpResponse("ok")


@admin_required
def admin_view(request):
    return HttpResponse("ok")


def request_as(rf, user):
    request = rf.get("/somewhere/?q=1")
    request.user = user
    return request


@pytest.mark.parametrize(
    ("persona", "admin", "triager"),
    [("dave", True, True), ("alice", False, True), ("charlie", False, False)],
)
def test_predicates_follow_the_role(request, persona, admin, triager):
    user = request.getfixturevalue(persona)

    assert (is_admin(user), is_triager(user), is_staff_member(user)) == (admin, triager, True)


def test_predicates_refuse_anonymous_and_deactivated_users(alice):
    alice.is_active = False

    for user in (AnonymousUser(), None, alice):
        assert not is_triager(user)
        assert not is_staff_member(user)


def test_it_sends_anonymous_visitors_to_sign_in(rf):
    response = triage_view(request_as(rf, AnonymousUser()))

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/somewhere/%3Fq%3D1"


def test_it_rejects_a_viewer_from_a_triager_view(rf, charlie):
    with pytest.raises(PermissionDenied):
        triage_view(request_as(rf, charlie))


def test_it_rejects_a_triager_from_an_admin_view(rf, alice):
    with pytest.raises(PermissionDenied):
        admin_view(request_as(rf, alice))


def test_it_lets_the_right_roles_through(rf, alice, dave):
    assert triage_view(request_as(rf, alice)).status_code == 200
    assert admin_view(request_as(rf, dave)).status_code == 200


def test_role_required_needs_a_valid_role():
    with pytest.raises(TypeError):
        role_required()
    with pytest.raises(ValueError, match="overlord"):
        role_required("overlord")
    assert role_required(Role.VIEWER) is not None
