"""The org key's public side: served at /.well-known, importable by gpg, generated once and audited."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.intake.services import ensure_org_key
from bastion.vault.models import OrgKey

pytestmark = pytest.mark.django_db

KEY_URL = "/.well-known/security-key.asc"


@pytest.fixture
def gpg_home(tmp_path):
    if shutil.which("gpg") is None:
        pytest.fail("gpg is missing: apt-get install gnupg")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    yield home
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, timeout=30)


def test_the_key_endpoint_serves_an_armored_public_key(client):
    response = client.get(KEY_URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pgp-keys"
    assert "max-age=3600" in response["Cache-Control"]
    text = response.content.decode()
    assert text.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert "PRIVATE" not in text
    assert text == OrgKey.objects.get(active=True).armored_public


def test_gpg_imports_the_served_key(client, gpg_home):
    armored = client.get(KEY_URL).content

    result = subprocess.run(
        ["gpg", "--homedir", str(gpg_home), "--batch", "--with-colons", "--import-options", "show-only",
         "--import"],
        input=armored, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    imported = subprocess.run(
        ["gpg", "--homedir", str(gpg_home), "--batch", "--import"],
        input=armored,
        capture_output=True,
        timeout=60,
    )

    assert imported.returncode == 0, imported.stderr
    fingerprints = [
        line.split(":")[9] for line in result.stdout.decode().splitlines() if line.startswith("fpr:")
    ]
    assert fingerprints[0] == OrgKey.objects.get(active=True).fingerprint
    assert b"security team" in result.stdout


def test_the_key_endpoint_records_nothing_but_the_key_generation(client):
    client.get(KEY_URL)
    client.get(KEY_URL)
    client.get("/security")

    events = list(AuditEvent.objects.values_list("event", flat=True))
    assert events == [Event.ORG_KEY_GENERATED]


def test_generation_is_audited_once_with_the_fingerprint(db):
    key, created = ensure_org_key()
    again, created_again = ensure_org_key()

    assert (created, created_again) == (True, False)
    event = AuditEvent.objects.get(event=Event.ORG_KEY_GENERATED)
    assert event.actor_kind == "system"
    assert event.target_type == "vault.orgkey"
    assert event.data["fingerprint"] == key.fingerprint == again.fingerprint
    assert key.expires_at is not None
    assert event.data["expires_at"] == key.expires_at.isoformat()


def test_the_org_key_command_generates_then_shows_the_key():
    out = io.StringIO()
    call_command("org_key", stdout=out)
    call_command("org_key", stdout=out)

    key = OrgKey.objects.get(active=True)
    text = out.getvalue()
    assert text.count("Generated a new org OpenPGP key.") == 1
    assert text.count(f"Fingerprint: {key.fingerprint}") == 2
    assert f"Expires:     {key.expires_at:%Y-%m-%d}" in text
    assert AuditEvent.objects.filter(event=Event.ORG_KEY_GENERATED).count() == 1


def test_the_org_key_command_warns_before_the_key_expires():
    call_command("org_key", stdout=io.StringIO())
    expires = OrgKey.objects.get(active=True).expires_at
    assert expires is not None
    err = io.StringIO()

    with time_machine.travel(expires - timedelta(days=30), tick=False):
        call_command("org_key", stdout=io.StringIO(), stderr=err)
    assert "expires on" in err.getvalue()

    err = io.StringIO()
    with time_machine.travel(expires + timedelta(days=1), tick=False):
        call_command("org_key", stdout=io.StringIO(), stderr=err)
    assert "has expired" in err.getvalue()
    assert timezone.now() < expires


def test_the_org_key_command_copes_with_a_key_that_never_expires(monkeypatch):
    from types import SimpleNamespace

    from bastion.intake.management.commands import org_key

    key = SimpleNamespace(
        fingerprint="AB" * 20, user_ids=("Imported <security@example.org>",), expires_at=None
    )
    monkeypatch.setattr(org_key, "ensure_org_key", lambda actor: (key, False))
    out = io.StringIO()

    call_command("org_key", stdout=out)

    assert "Expires:     never" in out.getvalue()
