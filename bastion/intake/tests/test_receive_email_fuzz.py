"""Fuzzing ``receive_email``: whatever bytes arrive, it stores them or says why not; it never crashes.

A short run is part of ``make test``. For a long run (say, overnight):

    BASTION_FUZZ_EXAMPLES=20000 .venv/bin/pytest bastion/intake/tests/test_receive_email_fuzz.py

Hypothesis keeps the failing inputs it finds in ``.hypothesis/`` and replays them first next time.
"""

from __future__ import annotations

import os
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.intake.mail.receive import MailRefused, MailSource, Outcome, receive_email
from bastion.lib import openpgp
from bastion.reports.models import ReceivedMail
from bastion.vault.orgkey import get_org_key

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("BASTION_FUZZ_EXAMPLES", "60"))


def seeds() -> list[bytes]:
    """Real shapes to mutate: plain, with attachments, HTML, and PGP/MIME to our key."""
    plain = EmailMessage()
    plain["From"] = "Rita <rita@researcher.example>"
    plain["To"] = "security@bastion.example"
    plain["Subject"] = "=?utf-8?q?SQL_injection_=C3=A9?="
    plain["Message-ID"] = "<seed-1@researcher.example>"
    plain.set_content("The q parameter is not escaped.\n")
    plain.add_alternative("<p>The <b>q</b> parameter</p>", subtype="html")
    plain.add_attachment(b"\x00\x01poc", "application", "octet-stream", filename="poc.bin")
    inner = EmailMessage()
    inner.set_content("Encrypted details.\n")
    armored = openpgp.encrypt(inner.as_bytes(), recipients=[get_org_key().public])
    encrypted = MIMEMultipart("encrypted", protocol="application/pgp-encrypted")
    encrypted["From"] = "rita@researcher.example"
    encrypted["Message-ID"] = "<seed-2@researcher.example>"
    encrypted.attach(MIMEApplication(b"Version: 1\r\n", "pgp-encrypted"))
    encrypted.attach(MIMEApplication(armored, "octet-stream"))
    headers = b"From: rita@researcher.example\r\nSubject: inline\r\n"
    inline = headers + b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + armored
    return [plain.as_bytes(), encrypted.as_bytes(), inline]


@st.composite
def mutated(draw: st.DrawFn, corpus: list[bytes]) -> bytes:
    raw = bytearray(draw(st.sampled_from(corpus)))
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["cut", "flip", "insert", "header", "boundary"]))
        at = draw(st.integers(0, max(0, len(raw) - 1)))
        if action == "cut":
            del raw[at:]
        elif action == "flip" and raw:
            raw[at] ^= draw(st.integers(1, 255))
        elif action == "insert":
            raw[at:at] = draw(st.binary(max_size=40))
        elif action == "header":
            name = draw(st.sampled_from([b"Content-Type", b"From", b"Subject", b"Message-ID", b"References"]))
            raw[0:0] = name + b": " + draw(st.binary(max_size=60)) + b"\r\n"
        else:
            raw[at:at] = b"\r\n--" + draw(st.binary(max_size=20)) + b"\r\n"
    return bytes(raw)


@pytest.fixture
def corpus(settings_org_key: None) -> list[bytes]:
    return seeds()


@pytest.fixture
def settings_org_key(settings, tmp_path) -> None:
    settings.MASTER_KEY_DIR = tmp_path / "keys"
    settings.MASTER_KEY_FILE = ""
    settings.VAULT_BLOB_DIR = tmp_path / "files"
    settings.MAIL_ADDRESSES = ["security@bastion.example"]
    settings.MAIL_LIMIT_PER_SENDER = "1000000/60"
    settings.MAIL_LIMIT_GLOBAL = "1000000/60"


def test_any_mutation_of_real_mail_is_stored_or_refused_never_lost(corpus: list[bytes]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(raw=st.one_of(mutated(corpus), st.binary(max_size=2000)))
    def check(raw: bytes) -> None:
        before = ReceivedMail.objects.count()
        try:
            received = receive_email(raw, source=MailSource.MAILGATE)
        except MailRefused:
            return
        stored = ReceivedMail.objects.count() - before
        assert stored == (0 if received.outcome == Outcome.DUPLICATE else 1)

    check()
