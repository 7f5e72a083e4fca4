"""Signing in through allauth's real forms: password, then a TOTP code; failures are clear and audited."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.test import PASSWORD, totp_code

pytestmark = pytest.mark.django_db


def sign_in_with_password(client, email, password=PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_staff_sign_in_with_password_and_totp(client, alice):
    response = sign_in_with_password(client, alice.email)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    # Not signed in yet: the second factor is still missing.
    assert client.get(reverse("home")).status_code == 302

    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(alice)})

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    page = client.get(reverse("home"))
    assert page.status_code == 200
    assert alice.email in page.content.decode()
    event = AuditEvent.objects.filter(event=Event.LOGIN_SUCCEEDED).get()
    assert event.actor_id == alice.pk
    assert event.data["methods"] == ["password", "mfa:totp"]


def test_it_signs_in_with_the_address_in_any_case(client, alice):
    response = sign_in_with_password(client, alice.email.upper())
    assert response["Location"] == reverse("mfa_authenticate")


def test_a_wrong_password_gives_a_clear_error_and_an_audit_row(client, alice):
    response = sign_in_with_password(client, alice.email, "not-the-password")

    assert response.status_code == 200
    assert "The email address and/or password you specified are not correct." in response.content.decode()
    event = AuditEvent.objects.filter(event=Event.LOGIN_FAILED).get()
    assert event.actor_label == alice.email
    assert event.target_id == str(alice.pk)
    assert event.data == {"login": alice.email}
    assert "not-the-password" not in str(event.data)


def test_a_failed_sign_in_for_an_unknown_address_is_audited_too(client, db):
    sign_in_with_password(client, "mallory@evil.example", "guess-guess-guess")

    event = AuditEvent.objects.filter(event=Event.LOGIN_FAILED).get()
    assert event.actor_label == "mallory@evil.example"
    assert event.target_id == ""


def test_a_wrong_totp_code_gives_a_clear_error_and_an_audit_row(client, alice):
    sign_in_with_password(client, alice.email)
    wrong = "000000" if totp_code(alice) != "000000" else "111111"

    response = client.post(reverse("mfa_authenticate"), {"code": wrong})

    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert client.get(reverse("home")).status_code == 302
    event = AuditEvent.objects.filter(event=Event.MFA_FAILED).get()
    assert event.target_id == str(alice.pk)
    assert event.data == {"type": "totp", "reauthentication": False}
    assert wrong not in str(event.data)


def test_a_totp_code_works_only_once(client, alice):
    code = totp_code(alice)
    sign_in_with_password(client, alice.email)
    client.post(reverse("mfa_authenticate"), {"code": code})
    client.post(reverse("account_logout"))

    sign_in_with_password(client, alice.email)
    response = client.post(reverse("mfa_authenticate"), {"code": code})

    assert "Incorrect code." in response.content.decode()


def test_signing_out_is_audited(client_as, alice):
    client = client_as(alice)

    response = client.post(reverse("account_logout"))

    assert response.status_code == 302
    assert AuditEvent.objects.filter(event=Event.LOGOUT, actor_id=alice.pk).exists()


def test_a_deactivated_account_cannot_sign_in(client, alice):
    alice.is_active = False
    alice.save()

    response = sign_in_with_password(client, alice.email)

    # Only someone who knows the password learns that the account is switched off.
    assert response["Location"] == reverse("account_inactive")
    assert "This account is deactivated" in client.get(response["Location"]).content.decode()
    assert client.get(reverse("home")).status_code == 302
