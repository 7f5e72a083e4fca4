"""django-axes locks an account after AXES_FAILURE_LIMIT failures through allauth's real login form."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from bastion.accounts.lockout import username_from_request
from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.test import PASSWORD

pytestmark = pytest.mark.django_db

LOCKED_MESSAGE = "Too many failed sign-in attempts for this account. Try again in 30 minutes"


def fail(client, email, times):
    return [
        client.post(reverse("account_login"), {"login": email, "password": f"wrong-{n}"})
        for n in range(times)
    ]


def test_it_locks_an_account_after_the_configured_number_of_failures(client, alice, settings):
    assert settings.AXES_FAILURE_LIMIT == 5  # the default this test documents
    *before, last = fail(client, alice.email, 5)

    assert [response.status_code for response in before] == [200, 200, 200, 200]
    assert last.status_code == 403
    body = last.content.decode()
    assert LOCKED_MESSAGE in body
    assert "ask an administrator to unlock it" in body
    # axes recorded the account, not None: the lock follows the address, whatever the IP.
    attempt = AccessAttempt.objects.get()
    assert attempt.username == alice.email
    assert attempt.failures_since_start == 5


def test_a_locked_account_stays_locked_even_with_the_right_password(client, alice):
    fail(client, alice.email, 5)

    response = client.post(reverse("account_login"), {"login": alice.email, "password": PASSWORD})

    assert response.status_code == 403
    assert LOCKED_MESSAGE in response.content.decode()
    assert client.get(reverse("home")).status_code == 302


def test_the_lock_follows_the_account_across_addresses_and_spellings(client, alice):
    for n in range(5):
        client.post(
            reverse("account_login"),
            {"login": alice.email.upper() if n % 2 else alice.email, "password": "wrong"},
            REMOTE_ADDR=f"192.0.2.{n + 1}",
        )

    response = client.post(
        reverse("account_login"), {"login": alice.email, "password": PASSWORD}, REMOTE_ADDR="198.51.100.9"
    )

    assert response.status_code == 403


def test_the_lockout_is_audited_with_the_typed_address(client, alice):
    fail(client, alice.email, 6)

    locked = AuditEvent.objects.filter(event=Event.LOGIN_LOCKED_OUT)
    assert locked.count() == 2
    event = locked.earliest("id")
    assert event.actor_label == alice.email
    assert event.target_id == str(alice.pk)
    assert event.data == {"login": alice.email, "failure_limit": 5}
    assert AuditEvent.objects.filter(event=Event.LOGIN_FAILED).count() == 6


def test_the_threshold_comes_from_settings(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 3

    responses = fail(client, alice.email, 3)

    assert [response.status_code for response in responses] == [200, 200, 403]
    assert "Try again in 30 minutes" in responses[-1].content.decode()


def test_other_accounts_are_not_locked(client, alice, bob):
    fail(client, alice.email, 5)

    response = client.post(reverse("account_login"), {"login": bob.email, "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")


def test_the_username_is_read_from_credentials_or_the_form(rf):
    assert username_from_request(None, {"email": " Alice@Bastion.Example "}) == "alice@bastion.example"
    assert (
        username_from_request(rf.post("/", {"login": "Bob@X.example"}), {"password": "x"}) == "bob@x.example"
    )
    assert username_from_request(rf.get("/"), None) is None
