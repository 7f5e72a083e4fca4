"""Personal API tokens: shown once, stored hashed, scoped, revocable, refused when dead, audited."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from bastion.accounts import services
from bastion.accounts.models import ApiScope, ApiToken
from bastion.accounts.services.api_tokens import (
    ApiTokenRejected,
    authenticate_api_token,
    create_api_token,
    revoke_api_token,
)
from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import Actor

pytestmark = pytest.mark.django_db

READ = [ApiScope.REPORTS_READ]
NOON = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


def a_token(user, **overrides):
    values = {"user": user, "name": "CI sync", "scopes": READ, "actor": user}
    values.update(overrides)
    return create_api_token(**values)


# --- The service ----------------------------------------------------------------------------------


def test_it_returns_the_token_once_and_stores_only_its_sha256(alice):
    token, plaintext = a_token(alice)

    assert plaintext.startswith("bst_")
    assert len(plaintext) == 47
    token.refresh_from_db()
    assert token.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert token.prefix == plaintext[:12]
    assert plaintext not in repr(create_api_token(user=alice, name="x", scopes=READ, actor=alice))
    stored = [str(value) for value in ApiToken.objects.values_list(*[f.name for f in ApiToken._meta.fields])]
    assert not any(plaintext in value for value in stored)


def test_two_tokens_never_share_a_secret(alice):
    assert a_token(alice).plaintext != a_token(alice).plaintext


def test_creating_is_audited_with_the_prefix_and_never_the_token(alice):
    token, plaintext = a_token(alice)

    event = AuditEvent.objects.get(event=Event.API_TOKEN_CREATED)
    assert event.actor_id == alice.pk
    assert event.data["prefix"] == token.prefix
    assert event.data["scopes"] == ["reports:read"]
    assert plaintext not in str(event.data)


def test_it_authenticates_a_usable_token_and_notes_the_use(alice):
    token, plaintext = a_token(alice)

    found = authenticate_api_token(plaintext, method="GET", endpoint="/api/v1/staff/reports", ip="192.0.2.1")

    assert found == token
    assert found.user == alice
    token.refresh_from_db()
    assert token.last_used_at is not None
    used = AuditEvent.objects.get(event=Event.API_TOKEN_USED)
    assert used.actor_id == alice.pk
    assert used.data == {"prefix": token.prefix, "method": "GET", "endpoint": "/api/v1/staff/reports"}
    assert plaintext not in str(used.data)


@pytest.mark.parametrize("raw", ["", "bst_short", "nope", "bst_" + "A" * 43, "Bearer x"])
def test_it_refuses_a_string_that_is_no_token_and_records_nothing(alice, raw):
    a_token(alice)

    assert authenticate_api_token(raw) is None
    assert not AuditEvent.objects.filter(event=Event.API_TOKEN_USED).exists()


def test_it_refuses_a_revoked_token_and_records_the_attempt(alice):
    token, plaintext = a_token(alice)
    revoke_api_token(token=token, actor=alice)

    assert authenticate_api_token(plaintext, endpoint="/x") is None
    attempt = AuditEvent.objects.get(event=Event.API_TOKEN_USED)
    assert attempt.data["refused"] == "revoked"
    assert attempt.actor_id is None
    revoked = AuditEvent.objects.get(event=Event.API_TOKEN_REVOKED)
    assert revoked.data == {"prefix": token.prefix, "owner": alice.pk}


def test_it_refuses_an_expired_token(alice):
    _, plaintext = a_token(alice, expires_at=timezone.now() + timedelta(days=1))

    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        assert authenticate_api_token(plaintext) is None
    assert AuditEvent.objects.get(event=Event.API_TOKEN_USED).data["refused"] == "expired"


def test_it_refuses_the_token_of_a_deactivated_owner(alice, dave):
    _, plaintext = a_token(alice)
    services.deactivate_staff(actor=dave, user=alice)

    assert authenticate_api_token(plaintext) is None
    assert AuditEvent.objects.get(event=Event.API_TOKEN_USED).data["refused"] == "owner_inactive"


def test_revoking_twice_records_once(alice):
    token, _ = a_token(alice)

    revoke_api_token(token=token, actor=alice)
    revoke_api_token(token=token, actor=alice)

    assert AuditEvent.objects.filter(event=Event.API_TOKEN_REVOKED).count() == 1


def test_an_admin_may_revoke_anyones_token(alice, dave):
    token, _ = a_token(alice)

    revoke_api_token(token=token, actor=dave)

    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_it_rejects_revoking_someone_elses_token(alice, bob):
    token, _ = a_token(alice)

    with pytest.raises(PermissionDenied):
        revoke_api_token(token=token, actor=bob)


def test_it_rejects_making_a_token_for_someone_else(alice, dave):
    with pytest.raises(PermissionDenied):
        a_token(alice, actor=dave)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": ["reports:delete"]}, "scopes"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, "expires_at"),
    ],
)
def test_it_rejects_bad_input_naming_the_field(alice, overrides, field):
    with pytest.raises(ApiTokenRejected) as refused:
        a_token(alice, **overrides)

    assert refused.value.field == field
    assert not ApiToken.objects.exists()


def test_it_rejects_a_token_for_a_deactivated_account(alice, dave):
    services.deactivate_staff(actor=dave, user=alice)

    with pytest.raises(ApiTokenRejected, match="deactivated"):
        a_token(alice, actor=Actor.system())


# --- bastion create-api-token ---------------------------------------------------------------------


def test_the_command_prints_the_token_once_and_it_works(alice, capsys):
    call_command(
        "create_api_token", alice.email.upper(), "--scope", "reports:read", "--scope", "reports:write"
    )

    out = capsys.readouterr().out
    plaintext = next(word for word in out.split() if word.startswith("bst_"))
    token = authenticate_api_token(plaintext)
    assert token is not None
    assert token.user == alice
    assert token.scopes == ["reports:read", "reports:write"]
    assert token.name == "command line"
    assert token.expires_at is None
    assert "only this once" in out
    assert AuditEvent.objects.get(event=Event.API_TOKEN_CREATED).actor_kind == "system"


def test_the_command_sets_a_name_and_an_expiry(alice, capsys):
    with time_machine.travel(NOON, tick=False):
        call_command(
            "create_api_token",
            alice.email,
            "--scope",
            "messages:write",
            "--name",
            "Bot",
            "--expires-days",
            "7",
        )

    token = ApiToken.objects.get()
    assert token.name == "Bot"
    assert token.expires_at == NOON + timedelta(days=7)
    assert "valid until 2031-03-08 12:00 UTC" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody@bastion.example", "--scope", "reports:read"], "No staff account has the address"),
        (["alice@bastion.example"], "Give at least one --scope"),
        (["alice@bastion.example", "--scope", "reports:delete"], "Unknown scope reports:delete"),
        (["alice@bastion.example", "--scope", "reports:read", "--expires-days", "0"], "--expires-days"),
    ],
)
def test_the_command_explains_bad_input(alice, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", *args)
    assert not ApiToken.objects.exists()


def test_the_command_refuses_a_deactivated_account(alice, dave):
    services.deactivate_staff(actor=dave, user=alice)

    with pytest.raises(CommandError, match="deactivated"):
        call_command("create_api_token", alice.email, "--scope", "reports:read")


# --- The profile page -----------------------------------------------------------------------------


def test_the_profile_lists_tokens_without_their_secret(client_as, alice):
    token, plaintext = a_token(alice)

    html = client_as(alice).get(reverse("accounts:profile")).content.decode()

    assert "CI sync" in html
    assert f"{token.prefix}…" in html
    assert "reports:read" in html
    assert plaintext not in html


@time_machine.travel(NOON, tick=False)
def test_creating_on_the_profile_shows_the_token_once_with_a_warning(client_as, alice):
    client = client_as(alice, reauthenticated=True)
    form = {"api_token-name": "Laptop", "api_token-scopes": ["reports:read", "messages:write"],
            "api_token-expires_in": "30"}  # fmt: skip

    response = client.post(reverse("accounts:create_api_token"), form)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "the only time it is shown" in html
    token = ApiToken.objects.get()
    plaintext = next(part.split('"')[0] for part in html.split('value="')[1:] if part.startswith("bst_"))
    assert authenticate_api_token(plaintext) == token
    assert token.scopes == ["messages:write", "reports:read"]
    assert token.expires_at == NOON + timedelta(days=30)
    assert plaintext not in client.get(reverse("accounts:profile")).content.decode()


def test_creating_asks_for_the_password_again(client_as, alice):
    form = {"api_token-name": "Laptop", "api_token-scopes": ["reports:read"]}

    response = client_as(alice).post(reverse("accounts:create_api_token"), form)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert not ApiToken.objects.exists()


def test_a_bad_form_explains_itself_on_the_profile(client_as, alice):
    client = client_as(alice, reauthenticated=True)

    response = client.post(reverse("accounts:create_api_token"), {"api_token-name": "Laptop"}, follow=True)

    assert "The API token was not created. Scopes: This field is required." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_on_the_profile_stops_the_token(client_as, alice):
    token, plaintext = a_token(alice)

    response = client_as(alice).post(reverse("accounts:revoke_api_token", args=[token.pk]), follow=True)

    assert "no longer works" in response.content.decode()
    assert authenticate_api_token(plaintext) is None


def test_it_rejects_revoking_another_persons_token_from_the_profile(client_as, alice, bob):
    token, plaintext = a_token(alice)

    response = client_as(bob).post(reverse("accounts:revoke_api_token", args=[token.pk]))

    assert response.status_code == 404
    assert authenticate_api_token(plaintext) == token


def test_it_rejects_the_token_pages_for_anonymous_visitors(client, alice):
    token, _ = a_token(alice)

    for url in (reverse("accounts:create_api_token"), reverse("accounts:revoke_api_token", args=[token.pk])):
        response = client.post(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
