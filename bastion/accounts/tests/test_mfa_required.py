"""MFA is mandatory: staff without a second factor can only enrol one; the last one can't be removed."""

from __future__ import annotations

import time

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from django.urls import reverse

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.test import PASSWORD, make_staff, totp_code

pytestmark = pytest.mark.django_db


def code_for_secret(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def sign_in(client, user):
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return response


def test_a_user_without_mfa_is_sent_to_enrolment(client_as):
    erin_like = make_staff("bob", mfa=False)
    client = client_as(erin_like)

    for name in ["home", "accounts:profile"]:
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response["Location"] == reverse("mfa_activate_totp")


def test_enrolment_sign_out_and_health_stay_reachable_without_mfa(client_as):
    client = client_as(make_staff("bob", mfa=False))

    assert client.get(reverse("mfa_index")).status_code == 200
    assert client.get(reverse("healthz")).status_code == 200
    assert client.get(reverse("account_reauthenticate")).status_code == 200
    assert client.post(reverse("account_logout")).status_code == 302


def test_a_new_user_enrols_totp_and_can_then_use_the_site(client, django_capture_on_commit_callbacks):
    bob = make_staff("bob", mfa=False)
    sign_in(client, bob)
    assert client.get(reverse("home"))["Location"] == reverse("mfa_activate_totp")

    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    assert 'src="data:image/svg+xml;base64,' in page.content.decode()
    secret = client.session[SECRET_SESSION_KEY]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mfa_activate_totp"), {"code": code_for_secret(secret)})

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    assert Authenticator.objects.filter(user=bob, type=Authenticator.Type.TOTP).exists()
    assert client.get(reverse("mfa_view_recovery_codes")).status_code == 200
    assert client.get(reverse("home")).status_code == 200
    events = set(AuditEvent.objects.filter(actor_id=bob.pk).values_list("event", flat=True))
    assert {Event.MFA_ENABLED, Event.RECOVERY_CODES_GENERATED} <= events
    assert secret not in str(list(AuditEvent.objects.values("data")))


def test_the_enrolment_window_closes_after_the_reauthentication_timeout(client, settings):
    bob = make_staff("bob", mfa=False)
    sign_in(client, bob)

    with time_machine.travel(time.time() + settings.ACCOUNT_REAUTHENTICATION_TIMEOUT + 1):
        response = client.get(reverse("mfa_activate_totp"))

    assert response["Location"].startswith(reverse("account_reauthenticate"))


def test_a_wrong_enrolment_code_is_refused(client):
    bob = make_staff("bob", mfa=False)
    sign_in(client, bob)
    client.get(reverse("mfa_activate_totp"))

    response = client.post(reverse("mfa_activate_totp"), {"code": "12345x"})

    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert not Authenticator.objects.filter(user=bob).exists()


def test_adding_a_factor_long_after_signing_in_asks_for_the_password_again(client_as):
    client = client_as(make_staff("bob", mfa=False))  # no record of a fresh sign-in

    response = client.get(reverse("mfa_activate_totp"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))


def test_the_last_authenticator_cannot_be_removed(client_as, alice):
    client = client_as(alice, reauthenticated=True)

    response = client.post(reverse("mfa_deactivate_totp"))

    assert response.status_code == 200
    assert "Two-factor authentication is required for staff." in response.content.decode()
    assert Authenticator.objects.filter(user=alice, type=Authenticator.Type.TOTP).exists()


def test_an_authenticator_can_go_once_another_factor_exists(client_as, alice):
    Authenticator.objects.create(
        user=alice, type=Authenticator.Type.WEBAUTHN, data={"name": "YubiKey", "credential": {}}
    )
    client = client_as(alice, reauthenticated=True)

    response = client.post(reverse("mfa_deactivate_totp"))

    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=alice, type=Authenticator.Type.TOTP).exists()
    assert AuditEvent.objects.filter(event=Event.MFA_REMOVED, actor_id=alice.pk).exists()


def test_regenerating_recovery_codes_is_audited(client_as, alice, django_capture_on_commit_callbacks):
    client = client_as(alice, reauthenticated=True)

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("mfa_generate_recovery_codes"))
        client.post(reverse("mfa_generate_recovery_codes"))

    generated = AuditEvent.objects.filter(event=Event.RECOVERY_CODES_GENERATED, actor_id=alice.pk)
    assert generated.count() == 2


def test_reauthenticating_with_a_totp_code_is_audited(client_as, alice):
    client = client_as(alice)

    response = client.post(reverse("mfa_reauthenticate"), {"code": totp_code(alice)})

    assert response.status_code == 302
    event = AuditEvent.objects.get(event=Event.REAUTHENTICATED)
    assert event.data == {"method": "mfa", "type": "totp"}


def test_a_wrong_code_on_reauthentication_is_audited(client_as, alice):
    client = client_as(alice)

    client.post(
        reverse("mfa_reauthenticate"), {"code": "000000" if totp_code(alice) != "000000" else "111111"}
    )

    event = AuditEvent.objects.get(event=Event.MFA_FAILED)
    assert event.actor_id == alice.pk
    assert event.data == {"type": "totp", "reauthentication": True}


def test_passkeys_are_offered(client_as, alice):
    client = client_as(alice, reauthenticated=True)

    add = client.get(reverse("mfa_add_webauthn"))
    login = client_as(alice).post(reverse("account_logout"))

    assert add.status_code == 200
    assert "Add a passkey or security key" in add.content.decode()
    assert login.status_code == 302
