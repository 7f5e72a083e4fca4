"""security.txt once the org key has lapsed: the last good document is served, or a plain 503, never a 500.

Researchers' tools fetch security.txt unattended; a lapsed key must not turn it into an error page,
and the daily renewal must still mail the admins (the alert exists for exactly this case).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
import time_machine

from bastion.disclosure.models import SecurityTxt
from bastion.disclosure.securitytxt_tasks import email_security_txt_alert, renew_security_txt
from bastion.disclosure.services.securitytxt import ensure_security_txt
from bastion.reports.tests.conftest import private_vault  # noqa: F401  (fixture)
from bastion.vault.orgkey import get_org_key

pytestmark = pytest.mark.django_db


def lapsed() -> time_machine.travel:
    """A day after the org key expired."""
    expires = get_org_key().expires_at
    assert expires is not None
    return time_machine.travel(expires + timedelta(days=1), tick=False)


def test_with_no_document_ever_signed_a_lapsed_key_gives_a_plain_503(client, caplog):
    with lapsed(), caplog.at_level(logging.ERROR, logger="bastion.disclosure.views.securitytxt"):
        response = client.get("/.well-known/security.txt")

    assert response.status_code == 503
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == b"security.txt is unavailable: the signing key has lapsed.\n"
    assert "the org key cannot sign any more" in caplog.text


def test_a_lapsed_key_keeps_the_last_signed_document_served(client):
    signed = ensure_security_txt()

    with lapsed():
        response = client.get("/.well-known/security.txt")

    assert response.status_code == 200
    assert response.content.decode() == signed.text
    assert SecurityTxt.objects.count() == 1


def test_the_daily_renewal_logs_a_lapsed_key_and_goes_on(caplog):
    ensure_security_txt()

    with lapsed(), caplog.at_level(logging.ERROR, logger="bastion.disclosure.securitytxt_tasks"):
        renew_security_txt.call()

    assert "security.txt could not be renewed: the org key cannot sign any more" in caplog.text
    assert SecurityTxt.objects.count() == 1


def test_an_alert_with_no_admin_to_mail_is_logged(caplog, mailoutbox):
    document = ensure_security_txt()

    with caplog.at_level(logging.WARNING, logger="bastion.disclosure.securitytxt_tasks"):
        email_security_txt_alert.call(document.pk, document=True, key=False)

    assert "there is no active admin (or document) to mail" in caplog.text
    assert mailoutbox == []
