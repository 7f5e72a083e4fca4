"""Passwords: reset through allauth's e-mailed link (end to end, with the real outbox), and change."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.urls import reverse

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.test import PASSWORD, totp_code

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "quartz-meadow-violin-82"


def reset_link(body: object, base_url: str) -> str:
    match = re.search(re.escape(base_url) + r"/accounts/password/reset/key/\S+", str(body))
    assert match, body
    return urlsplit(match.group(0)).path


def test_a_staff_member_resets_a_forgotten_password(client, alice, settings):
    response = client.post(reverse("account_reset_password"), {"email": alice.email.upper()})
    assert response.status_code == 302
    assert "Check your e-mail" in client.get(response["Location"]).content.decode()
    [message] = mail.outbox
    assert message.to == [alice.email]
    link = reset_link(message.body, settings.BASE_URL)

    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    response = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link,
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302

    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    # Signing in still takes the second factor.
    client.post(reverse("account_login"), {"login": alice.email, "password": NEW_PASSWORD})
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(alice)})
    assert response["Location"] == reverse("home")
    events = list(AuditEvent.objects.order_by("id").values_list("event", flat=True))
    assert Event.PASSWORD_RESET_REQUESTED in events
    assert Event.PASSWORD_RESET in events


def test_the_reset_mail_lands_in_the_outbox_by_default(client, alice, settings, tmp_path):
    settings.EMAIL_BACKEND = "bastion.lib.emails.OutboxBackend"
    settings.OUTBOX_DIR = tmp_path

    client.post(reverse("account_reset_password"), {"email": alice.email})

    [eml] = tmp_path.glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == alice.email
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert "/accounts/password/reset/key/" in body.get_content()


def test_no_mail_goes_to_an_unknown_or_deactivated_address(client, alice):
    alice.is_active = False
    alice.save()

    client.post(reverse("account_reset_password"), {"email": alice.email})

    assert all("/accounts/password/reset/key/" not in message.body for message in mail.outbox)
    assert not AuditEvent.objects.filter(event=Event.PASSWORD_RESET_REQUESTED).exists()


def test_a_used_reset_link_does_not_work_twice(client, alice, settings):
    client.post(reverse("account_reset_password"), {"email": alice.email})
    link = reset_link(mail.outbox[0].body, settings.BASE_URL)
    page = client.get(link, follow=True)
    target = page.redirect_chain[-1][0] if page.redirect_chain else link
    client.post(target, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    again = client.get(link, follow=True)

    assert "This reset link does not work" in again.content.decode()


def test_changing_the_password_is_audited(client_as, alice):
    client = client_as(alice, reauthenticated=True)

    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(event=Event.PASSWORD_CHANGED, actor_id=alice.pk).exists()


def test_allauth_mail_speaks_for_the_product(client, alice, settings):
    client.post(reverse("account_reset_password"), {"email": alice.email})

    [message] = mail.outbox
    assert message.subject == "[Bastion] Reset your password"
    assert message.body.startswith("Hello from Bastion,")
    assert "testserver" not in message.body
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"


def test_an_unknown_address_hears_there_is_no_signup(client, db):
    client.post(reverse("account_reset_password"), {"email": "nobody@elsewhere.example"})

    for message in mail.outbox:
        assert "/accounts/signup/" not in message.body
