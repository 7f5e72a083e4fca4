"""Admins invite staff by e-mail; the link creates the account once, then MFA enrolment follows."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bastion.accounts import services
from bastion.accounts.models import Invitation, Role, User
from bastion.accounts.tasks import send_staff_invitation
from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.test import PASSWORD

pytestmark = pytest.mark.django_db

NEW_ADDRESS = "Nora@Bastion.Example"
ACCEPT_FORM = {"full_name": "Nora Newcomer", "password1": PASSWORD, "password2": PASSWORD}


def invite_through_the_team_page(
    client, django_capture_on_commit_callbacks, email=NEW_ADDRESS, role="triager"
):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("accounts:invite"), {"email": email, "role": role})


def link_in(message) -> str:
    match = re.search(r"https?://\S+/accounts/invitation/\d+/[0-9a-f]{64}/", message.body)
    assert match, message.body
    return urlsplit(match.group(0)).path


def rejections():
    return list(
        AuditEvent.objects.filter(event=Event.INVITATION_REJECTED)
        .order_by("id")
        .values_list("data", flat=True)
    )


@pytest.fixture
def invitation(dave, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.invite_staff(actor=dave, email=NEW_ADDRESS, role=Role.TRIAGER)


@pytest.fixture
def invitation_path(invitation):
    return link_in(mail.outbox[-1])


def test_an_admin_invites_a_staff_member_by_email(
    client_as, dave, django_capture_on_commit_callbacks, settings
):
    client = client_as(dave, reauthenticated=True)

    response = invite_through_the_team_page(client, django_capture_on_commit_callbacks)

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:team")
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "nora@bastion.example",
        Role.TRIAGER,
        dave,
    )
    assert invitation.expires_at - invitation.created_at == timedelta(days=settings.INVITATION_DAYS)
    assert invitation.sent_at is not None
    [message] = mail.outbox
    assert message.to == ["nora@bastion.example"]
    assert message.subject == "You are invited to join Bastion"
    assert "Dave Lead invited you to join Bastion" in message.body
    assert "as Triager" in message.body
    assert link_in(message) == urlsplit(invitation.link()).path
    assert message.body.count(settings.BASE_URL) >= 1
    sent = AuditEvent.objects.get(event=Event.INVITATION_SENT)
    assert sent.actor_id == dave.pk
    assert sent.data == {"email": "nora@bastion.example", "role": "triager"}
    assert invitation.token() not in str(sent.data)


def test_the_invitation_link_creates_an_account_with_the_invited_role(client, invitation_path):
    page = client.get(invitation_path)
    assert page.status_code == 200
    assert "nora@bastion.example" in page.content.decode()

    response = client.post(invitation_path, ACCEPT_FORM)

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    nora = User.objects.get(email="nora@bastion.example")
    assert (nora.role, nora.full_name, nora.is_active) == (Role.TRIAGER, "Nora Newcomer", True)
    assert nora.check_password(PASSWORD)
    invitation = Invitation.objects.get()
    assert invitation.accepted_at is not None
    assert invitation.accepted_user == nora
    accepted = AuditEvent.objects.get(event=Event.INVITATION_ACCEPTED)
    assert accepted.actor_id == nora.pk
    # Signed in, but only MFA enrolment is reachable until a second factor exists.
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    assert client.get(reverse("home"))["Location"] == reverse("mfa_activate_totp")


def test_it_rejects_a_used_invitation(client, invitation_path):
    client.post(invitation_path, ACCEPT_FORM)

    response = Client().get(invitation_path)

    assert response.status_code == 410
    assert "This invitation has already been used." in response.content.decode()
    assert rejections() == [{"reason": "used"}]


def test_it_rejects_an_expired_invitation(client, invitation_path, settings):
    with time_machine.travel(timezone.now() + timedelta(days=settings.INVITATION_DAYS, seconds=1)):
        response = client.post(invitation_path, ACCEPT_FORM)

    assert response.status_code == 410
    assert "This invitation has expired." in response.content.decode()
    assert rejections() == [{"reason": "expired"}]
    assert not User.objects.filter(email="nora@bastion.example").exists()


def test_it_rejects_a_revoked_invitation(client, invitation, invitation_path, dave):
    services.revoke_invitation(actor=dave, invitation=invitation)

    response = client.get(invitation_path)

    assert response.status_code == 410
    assert "This invitation has been withdrawn." in response.content.decode()
    assert rejections() == [{"reason": "revoked"}]


def test_it_rejects_a_tampered_token_without_confirming_the_invitation_exists(
    client, invitation, invitation_path
):
    tampered = invitation_path.replace(invitation.token(), "0" * 64)
    unknown = reverse("accounts:invitation", args=[invitation.pk + 1000, invitation.token()])

    responses = [client.get(tampered), client.get(unknown)]

    assert [response.status_code for response in responses] == [404, 404]
    assert responses[0].content == responses[1].content
    assert rejections() == [{"reason": "bad_token"}, {"reason": "unknown"}]


@pytest.mark.parametrize("token", ["abc", "Z" * 64, "0" * 65])
def test_it_rejects_a_malformed_invitation_link(client, invitation, token):
    response = client.get(f"/accounts/invitation/{invitation.pk}/{token}/")

    assert response.status_code == 404
    assert rejections() == [{"reason": "malformed"}]


def test_the_token_is_never_stored(invitation):
    token = invitation.token()
    row = Invitation.objects.filter(pk=invitation.pk).values().get()

    assert token not in str(row)
    assert token not in str(list(AuditEvent.objects.values()))


def test_a_new_secret_key_voids_the_link_unless_the_old_one_is_a_fallback(client, invitation_path, settings):
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "a-brand-new-secret-key-" + "x" * 40
    assert client.get(invitation_path).status_code == 404

    settings.SECRET_KEY_FALLBACKS = [old_key]
    assert client.get(invitation_path).status_code == 200


def test_reinviting_an_address_replaces_the_older_link(
    dave, invitation, invitation_path, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.invite_staff(actor=dave, email=NEW_ADDRESS, role=Role.VIEWER)

    assert client.get(invitation_path).status_code == 410
    assert client.get(link_in(mail.outbox[-1])).status_code == 200
    revoked = AuditEvent.objects.get(event=Event.INVITATION_REVOKED)
    assert revoked.data == {"email": "nora@bastion.example", "reason": "superseded"}


def test_it_refuses_to_invite_an_address_that_already_has_an_account(
    client_as, dave, alice, django_capture_on_commit_callbacks
):
    client = client_as(dave, reauthenticated=True)

    response = invite_through_the_team_page(client, django_capture_on_commit_callbacks, email=alice.email)

    assert not Invitation.objects.exists()
    assert mail.outbox == []
    page = client.get(response["Location"]).content.decode()
    assert "A staff account with this address already exists." in page


def test_the_mail_task_sends_nothing_for_a_closed_invitation(invitation, dave):
    services.revoke_invitation(actor=dave, invitation=invitation)
    Invitation.objects.update(sent_at=None)
    mail.outbox.clear()

    send_staff_invitation.call(invitation.pk)

    assert mail.outbox == []


def test_the_mail_task_does_not_send_twice(invitation):
    mail.outbox.clear()

    send_staff_invitation.call(invitation.pk)

    assert mail.outbox == []


def test_the_task_is_queued_with_the_invitation_id_only(dave, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.invite_staff(actor=dave, email=NEW_ADDRESS, role=Role.TRIAGER)

    assert len(callbacks) == 1
    assert mail.outbox == []  # nothing is sent before the transaction commits


@pytest.mark.parametrize("persona", ["alice", "charlie"])
def test_it_rejects_invitations_from_non_admins(
    request, client_as, persona, django_capture_on_commit_callbacks
):
    user = request.getfixturevalue(persona)
    client = client_as(user, reauthenticated=True)

    response = invite_through_the_team_page(client, django_capture_on_commit_callbacks)

    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_it_rejects_invitations_from_anonymous_visitors(client, db):
    response = client.post(reverse("accounts:invite"), {"email": NEW_ADDRESS, "role": "admin"})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert not Invitation.objects.exists()
