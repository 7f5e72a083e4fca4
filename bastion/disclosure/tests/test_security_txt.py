"""security.txt: valid by sectxt, verified by gpg, renewed before it expires, and alerts sent once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from sectxt import Parser  # type: ignore[import-untyped]  # sectxt ships no type information

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.disclosure.models import SecurityTxt
from bastion.disclosure.securitytxt_tasks import renew_security_txt
from bastion.disclosure.services.securitytxt import ensure_security_txt
from bastion.reports.tests.conftest import gpg, private_vault  # noqa: F401  (fixtures)
from bastion.test import make_staff
from bastion.vault.orgkey import get_org_key, get_org_public_key

pytestmark = pytest.mark.django_db

URL = "https://bastion.example/.well-known/security.txt"


def served(client) -> bytes:
    response = client.get("/.well-known/security.txt")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    return response.content


def test_it_serves_a_signed_security_txt_that_sectxt_finds_valid(client):
    parsed = Parser(served(client), urls=URL)

    assert parsed.errors == []
    assert parsed.recommendations == []
    assert parsed.is_valid()
    assert parsed.valid_contact_email == "security@bastion.example"
    assert parsed.valid_contact_urls == ["https://bastion.example/security/report"]
    assert parsed.preferred_languages == ["en"]
    fields = {line["field_name"]: line["value"] for line in parsed.lines if line["type"] == "field"}
    assert fields["encryption"] == "https://bastion.example/.well-known/security-key.asc"
    assert fields["acknowledgments"] == "https://bastion.example/security/thanks"
    assert fields["policy"] == "https://bastion.example/security"
    assert fields["canonical"] == URL
    assert fields["csaf"] == "https://bastion.example/.well-known/csaf/provider-metadata.json"


def test_it_verifies_with_gpg_and_a_tampered_copy_does_not(client, gpg, tmp_path):  # noqa: F811  (fixture)
    gpg("--import", input=get_org_public_key().armored_public().encode())
    signed = tmp_path / "security.txt"
    signed.write_bytes(served(client))

    good = gpg("--verify", str(signed), check=False)
    assert good.returncode == 0, good.stderr.decode(errors="replace")
    status = good.stderr.decode(errors="replace")
    assert "GOODSIG" in status
    # VALIDSIG names the signing subkey first and the primary key (the org key) last.
    assert re.search(rf"^\[GNUPG:\] VALIDSIG .* {get_org_key().fingerprint}$", status, re.MULTILINE)

    tampered = tmp_path / "tampered.txt"
    tampered.write_bytes(signed.read_bytes().replace(b"mailto:security@", b"mailto:attacker@"))
    bad = gpg("--verify", str(tampered), check=False)
    assert bad.returncode != 0
    assert "BADSIG" in bad.stderr.decode(errors="replace")


def test_the_legacy_path_redirects_to_the_well_known_one(client):
    response = client.get("/security.txt")

    assert response.status_code == 301
    assert response["Location"] == "/.well-known/security.txt"


def test_it_is_signed_once_and_then_served_as_stored(client):
    first = served(client)
    second = served(client)

    assert first == second
    assert SecurityTxt.objects.count() == 1
    row = AuditEvent.objects.get(event=Event.SECURITY_TXT_SIGNED)
    assert row.data["reason"] == "first"


def test_expires_is_the_configured_days_ahead_and_less_than_a_year(client, settings):
    document = ensure_security_txt()

    ahead = document.expires_at - document.signed_at
    assert timedelta(days=179) < ahead <= timedelta(days=settings.SECURITY_TXT_DAYS)


def test_a_change_of_settings_signs_a_new_one(client, settings):
    served(client)
    settings.SECURITY_TXT_LANGUAGES = ["en", "fr"]

    parsed = Parser(served(client), urls=URL)

    assert parsed.preferred_languages == ["en", "fr"]
    assert parsed.errors == []
    reasons = list(
        AuditEvent.objects.filter(event=Event.SECURITY_TXT_SIGNED)
        .order_by("id")
        .values_list("data__reason", flat=True)
    )
    assert reasons == ["first", "settings_changed"]


def test_the_daily_renewal_signs_a_new_one_when_expires_is_30_days_off(client):
    first = ensure_security_txt()
    start = timezone.now()

    with time_machine.travel(start + timedelta(days=100), tick=False):
        renew_security_txt.call()
        assert SecurityTxt.objects.count() == 1
    with time_machine.travel(start + timedelta(days=151), tick=False):
        renew_security_txt.call()
        renewed = SecurityTxt.objects.order_by("-signed_at").first()
        assert renewed is not None
        assert renewed.pk != first.pk
        assert renewed.expires_at > first.expires_at + timedelta(days=140)
        assert Parser(served(client), urls=URL).errors == []
    signed = AuditEvent.objects.filter(event=Event.SECURITY_TXT_SIGNED).order_by("id")
    assert [row.data["reason"] for row in signed] == ["first", "renewal"]
    assert mail.outbox == []


def test_admins_are_alerted_once_when_the_org_key_would_lapse(client, django_capture_on_commit_callbacks):
    dave = make_staff("dave")
    make_staff("alice")
    ensure_security_txt()
    key_expires = get_org_key().expires_at
    assert key_expires is not None

    with time_machine.travel(key_expires - timedelta(days=15), tick=False):
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                renew_security_txt.call()
        latest = SecurityTxt.objects.order_by("-signed_at").first()

    # Never past the key: the newest one expires with it, to the second.
    assert latest is not None
    assert latest.expires_at == key_expires.replace(microsecond=0)
    assert len(mail.outbox) == 1
    alert = mail.outbox[0]
    assert alert.to == [dave.email]
    assert "org OpenPGP key expires" in alert.subject
    assert "Rotate the org key" in alert.body
    assert "security.txt" in alert.body
    alerted = AuditEvent.objects.filter(event=Event.SECURITY_TXT_ALERTED)
    assert sorted(row.data["what"] for row in alerted) == ["org_key_expires", "security_txt_expires"]
