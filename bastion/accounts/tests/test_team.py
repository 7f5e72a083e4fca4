"""The Team page: admins list staff and invitations, change roles, deactivate, revoke; all audited."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from bastion.accounts import services
from bastion.accounts.errors import TeamRuleError
from bastion.accounts.models import Invitation, Role
from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.test import PASSWORD, make_staff

pytestmark = pytest.mark.django_db


def messages_on(client, response):
    return client.get(response["Location"]).content.decode()


def test_the_team_page_lists_staff_and_pending_invitations(
    client_as, dave, alice, charlie, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.invite_staff(actor=dave, email="nora@bastion.example", role=Role.VIEWER)
    no_mfa = make_staff("bob", mfa=False)

    page = client_as(dave).get(reverse("accounts:team"))

    assert page.status_code == 200
    body = page.content.decode()
    for member in (dave, alice, charlie, no_mfa):
        assert member.email in body
    assert "nora@bastion.example" in body
    staff = {member.email: member for member in page.context["staff"]}
    assert staff[alice.email].factors == 1
    assert staff[no_mfa.email].factors == 0
    assert "Not enrolled" in body


@pytest.mark.parametrize("persona", ["alice", "charlie"])
def test_it_rejects_the_team_page_for_staff_who_are_not_admins(request, client_as, persona):
    response = client_as(request.getfixturevalue(persona)).get(reverse("accounts:team"))

    assert response.status_code == 403


def test_it_rejects_the_team_page_for_anonymous_visitors(client, db):
    response = client.get(reverse("accounts:team"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={reverse('accounts:team')}"


def test_an_admin_changes_a_role(client_as, dave, alice):
    client = client_as(dave, reauthenticated=True)

    response = client.post(reverse("accounts:change_role", args=[alice.pk]), {"role": "viewer"})

    alice.refresh_from_db()
    assert alice.role == Role.VIEWER
    assert "alice@bastion.example is now Viewer." in messages_on(client, response)
    event = AuditEvent.objects.get(event=Event.ROLE_CHANGED)
    assert (event.actor_id, event.target_id) == (dave.pk, str(alice.pk))
    assert event.data == {"old": "triager", "new": "viewer"}


def test_an_unknown_role_is_refused(client_as, dave, alice):
    client = client_as(dave, reauthenticated=True)

    response = client.post(reverse("accounts:change_role", args=[alice.pk]), {"role": "overlord"})

    alice.refresh_from_db()
    assert alice.role == Role.TRIAGER
    assert "Choose one of the listed roles." in messages_on(client, response)


def test_the_last_admin_cannot_demote_themselves(client_as, dave):
    client = client_as(dave, reauthenticated=True)

    response = client.post(reverse("accounts:change_role", args=[dave.pk]), {"role": "triager"})

    dave.refresh_from_db()
    assert dave.role == Role.ADMIN
    assert "You cannot demote yourself: you are the last active admin." in messages_on(client, response)
    assert not AuditEvent.objects.filter(event=Event.ROLE_CHANGED).exists()


def test_the_last_admin_cannot_deactivate_themselves(client_as, dave):
    client = client_as(dave, reauthenticated=True)

    response = client.post(reverse("accounts:deactivate", args=[dave.pk]))

    dave.refresh_from_db()
    assert dave.is_active
    assert "You cannot deactivate yourself: you are the last active admin." in messages_on(client, response)


def test_an_admin_may_step_down_while_another_admin_remains(client_as, dave, alice):
    services.change_role(actor=dave, user=alice, role=Role.ADMIN)
    client = client_as(dave, reauthenticated=True)

    client.post(reverse("accounts:change_role", args=[dave.pk]), {"role": "triager"})

    dave.refresh_from_db()
    assert dave.role == Role.TRIAGER


def test_a_deactivated_admin_does_not_count_as_the_remaining_admin(dave, alice):
    services.change_role(actor=dave, user=alice, role=Role.ADMIN)
    services.deactivate_staff(actor=dave, user=alice)

    with pytest.raises(TeamRuleError):
        services.deactivate_staff(actor=dave, user=dave)


def test_an_admin_deactivates_and_reactivates_staff(client_as, dave, alice):
    alices_session = client_as(alice)
    client = client_as(dave, reauthenticated=True)

    response = client.post(reverse("accounts:deactivate", args=[alice.pk]))

    alice.refresh_from_db()
    assert not alice.is_active
    assert "alice@bastion.example can no longer sign in." in messages_on(client, response)
    # Her open session ends with her next request.
    assert alices_session.get(reverse("home")).status_code == 302

    client.post(reverse("accounts:reactivate", args=[alice.pk]))

    alice.refresh_from_db()
    assert alice.is_active
    events = list(
        AuditEvent.objects.filter(target_id=str(alice.pk)).order_by("id").values_list("event", flat=True)
    )
    assert events[-2:] == [Event.STAFF_DEACTIVATED, Event.STAFF_REACTIVATED]


def test_an_admin_revokes_an_invitation(client_as, dave, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invite_staff(actor=dave, email="nora@bastion.example", role=Role.VIEWER)
    client = client_as(dave, reauthenticated=True)

    response = client.post(reverse("accounts:revoke_invitation", args=[invitation.pk]))

    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert "The invitation for nora@bastion.example was withdrawn." in messages_on(client, response)
    assert AuditEvent.objects.get(event=Event.INVITATION_REVOKED).data == {
        "email": "nora@bastion.example",
        "reason": "revoked",
    }
    again = client.post(reverse("accounts:revoke_invitation", args=[invitation.pk]))
    assert "already accepted or withdrawn" in messages_on(client, again)


def test_team_actions_require_recent_reauthentication(client_as, dave, alice):
    client = client_as(dave)  # signed in, but has not confirmed the password recently
    url = reverse("accounts:change_role", args=[alice.pk])

    response = client.post(url, {"role": "viewer"})

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_reauthenticate')}?{urlencode({'next': url})}"
    alice.refresh_from_db()
    assert alice.role == Role.TRIAGER

    # Confirming the password resumes the suspended change.
    client.post(f"{reverse('account_reauthenticate')}?next={url}", {"password": PASSWORD, "next": url})

    alice.refresh_from_db()
    assert alice.role == Role.VIEWER
    assert AuditEvent.objects.filter(event=Event.REAUTHENTICATED, actor_id=dave.pk).exists()


def test_a_wrong_password_on_reauthentication_changes_nothing(client_as, dave, alice):
    client = client_as(dave)
    url = reverse("accounts:deactivate", args=[alice.pk])
    client.post(url)

    response = client.post(
        f"{reverse('account_reauthenticate')}?next={url}", {"password": "wrong", "next": url}
    )

    assert response.status_code == 200
    alice.refresh_from_db()
    assert alice.is_active
    failed = AuditEvent.objects.get(event=Event.LOGIN_FAILED)
    assert failed.actor_id == dave.pk
    assert failed.data == {"login": dave.email, "reauthentication": True}


ADMIN_ACTIONS = ["accounts:change_role", "accounts:deactivate", "accounts:reactivate"]


@pytest.mark.parametrize("url_name", ADMIN_ACTIONS)
@pytest.mark.parametrize("persona", ["alice", "charlie"])
def test_it_rejects_team_actions_by_staff_who_are_not_admins(request, client_as, bob, url_name, persona):
    client = client_as(request.getfixturevalue(persona), reauthenticated=True)

    response = client.post(reverse(url_name, args=[bob.pk]), {"role": "admin"})

    assert response.status_code == 403
    bob.refresh_from_db()
    assert (bob.role, bob.is_active) == (Role.TRIAGER, True)


@pytest.mark.parametrize("url_name", ADMIN_ACTIONS)
def test_it_rejects_team_actions_by_anonymous_visitors(client, bob, url_name):
    response = client.post(reverse(url_name, args=[bob.pk]), {"role": "admin"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    bob.refresh_from_db()
    assert bob.role == Role.TRIAGER


@pytest.mark.parametrize("persona", ["alice", "charlie"])
def test_it_rejects_revoking_invitations_by_staff_who_are_not_admins(request, client_as, dave, persona):
    invitation = Invitation.objects.create(
        email="nora@bastion.example", role=Role.VIEWER, invited_by=dave, expires_at="2999-01-01T00:00Z"
    )
    client = client_as(request.getfixturevalue(persona), reauthenticated=True)

    response = client.post(reverse("accounts:revoke_invitation", args=[invitation.pk]))

    assert response.status_code == 403
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


def test_team_actions_refuse_get_requests(client_as, dave, alice):
    response = client_as(dave, reauthenticated=True).get(reverse("accounts:deactivate", args=[alice.pk]))

    assert response.status_code == 405


def test_services_refuse_actors_who_are_not_admins(alice, bob):
    with pytest.raises(PermissionDenied):
        services.change_role(actor=alice, user=bob, role=Role.ADMIN)
    with pytest.raises(PermissionDenied):
        services.deactivate_staff(actor=alice, user=bob)
    with pytest.raises(PermissionDenied):
        services.invite_staff(actor=alice, email="nora@bastion.example", role=Role.ADMIN)


def test_it_rejects_revoking_invitations_by_anonymous_visitors(client, dave):
    invitation = Invitation.objects.create(
        email="nora@bastion.example", role=Role.VIEWER, invited_by=dave, expires_at="2999-01-01T00:00Z"
    )

    response = client.post(reverse("accounts:revoke_invitation", args=[invitation.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    invitation.refresh_from_db()
    assert invitation.revoked_at is None
