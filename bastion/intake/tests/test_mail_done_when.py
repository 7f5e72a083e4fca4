"""Issue 5's "done when", through each adapter with the real core: no stand-ins between them.

A researcher writes to security@ from an ordinary client with the org key (gpg: PGP/MIME, signed,
their key attached); the report appears decrypted for staff, the acknowledgement arrives encrypted
to their key, and their encrypted reply to it threads onto the report. The same story runs through
LMTP, the mailgate pipe and the IMAP poll (a real Dovecot).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart

import pytest
from django.core import mail

from bastion.intake.mail.imap import poll_mailbox
from bastion.intake.tests.test_mail_adapters import REPO, Listener
from bastion.intake.tests.test_mail_adapters_imap import _append, dovecot, mailbox  # noqa: F401 - fixtures
from bastion.reports.models import Message, Report
from bastion.reports.services import open_report
from bastion.reports.tests.conftest import gpg, private_vault, rita_key  # noqa: F401 - fixtures
from bastion.test import rita
from bastion.vault.orgkey import get_org_key

pytestmark = pytest.mark.django_db(transaction=True)

SECURITY = "security@example.org"  # the address the IMAP fixture's mail is for, too


@pytest.fixture(autouse=True)
def mail_settings(settings, private_vault):  # noqa: F811 - the imported fixture
    settings.MAIL_ADDRESSES = [SECURITY]
    settings.DEFAULT_FROM_EMAIL = SECURITY


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener(max_bytes=1 << 20).start()
    yield running
    running.stop()


Deliver = Callable[[bytes], None]


@pytest.fixture(params=["lmtp", "mailgate", "imap"])
def deliver(request, listener) -> Deliver:
    """Hand a message to Bastion the way one adapter does, and return once it is stored."""
    if request.param == "lmtp":

        def by_lmtp(raw: bytes) -> None:
            with listener.client() as client:
                assert client.sendmail("", [SECURITY], raw) == {}

        return by_lmtp
    if request.param == "mailgate":
        script = str(REPO / "bastion" / "intake" / "mail" / "mailgate.py")
        at = f"{listener.address[0]}:{listener.address[1]}"

        def by_pipe(raw: bytes) -> None:
            command = [sys.executable, "-I", "-S", script, "--lmtp", at, "--recipient", SECURITY]
            done = subprocess.run(command, input=raw, capture_output=True, timeout=60, check=False)
            assert done.returncode == 0, done.stdout

        return by_pipe
    folders = request.getfixturevalue("mailbox")
    server = request.getfixturevalue("dovecot")

    def by_imap(raw: bytes) -> None:
        _append(server, folders.inbox, raw)
        assert poll_mailbox().received == 1

    return by_imap


def pgp_mime(gpg, rita_key, inner: EmailMessage, *, subject: str, message_id: str, **headers: str) -> bytes:  # noqa: F811
    """What rita's client sends: the inner MIME entity signed and encrypted to the org key by gpg."""
    armored = gpg(
        "--armor", "--trust-model", "always", "--encrypt", "--sign", "-u", rita_key.fingerprint,
        "-r", get_org_key().fingerprint, input=inner.as_bytes(),
    ).stdout  # fmt: skip
    outer = MIMEMultipart("encrypted", protocol="application/pgp-encrypted")
    outer["From"] = f"Rita Researcher <{rita.email}>"
    outer["To"] = SECURITY
    outer["Subject"] = subject
    outer["Message-ID"] = message_id
    for name, value in headers.items():
        outer[name.replace("_", "-")] = value
    outer.attach(MIMEApplication(b"Version: 1\r\n", "pgp-encrypted"))
    outer.attach(MIMEApplication(armored, "octet-stream"))
    return outer.as_bytes()


def decrypted_by_rita(gpg, sent) -> bytes:  # noqa: F811
    outer = message_from_bytes(sent.message().as_bytes(), policy=policy.default)
    assert outer.get_content_type() == "multipart/encrypted"
    armored = list(outer.iter_parts())[1].get_payload(decode=True)
    return gpg("--decrypt", input=armored).stdout


def test_a_researchers_encrypted_mail_becomes_a_report_answered_and_threaded(
    deliver,
    gpg,  # noqa: F811
    rita_key,  # noqa: F811
    dave,
):
    gpg("--import", input=rita_key.secret)
    gpg("--import", input=get_org_key().armored_public().encode())
    first = EmailMessage()
    first["Subject"] = "Invoice export leaks other tenants"
    first.set_content("GET /export?tenant=2 returns another tenant's invoices.")
    first.add_attachment(rita_key.public.encode(), "application", "pgp-keys", filename="rita.asc")

    deliver(pgp_mime(gpg, rita_key, first, subject="...", message_id="<first@researcher.example>"))

    report = Report.objects.get()
    opened = open_report(report=report, actor=dave)
    assert opened.title == "Invoice export leaks other tenants"
    assert "another tenant's invoices" in opened.description
    assert [a.filename for a in opened.attachments] == ["rita.asc"]  # from inside the encryption, sealed
    kept = report.received_mails.get()
    assert (kept.encryption, kept.signature, kept.signer_fingerprint) == (
        "pgp_mime",
        "good",
        rita_key.fingerprint,
    )

    (ack,) = [m for m in mail.outbox if rita.email in m.to]
    assert report.tracking_id in ack.subject
    assert report.tracking_id.encode() in decrypted_by_rita(gpg, ack)

    reply = EmailMessage()
    reply["Subject"] = f"Re: [{report.tracking_id}]"
    reply.set_content("It also works with tenant=3.")
    deliver(
        pgp_mime(
            gpg, rita_key, reply, subject="...", message_id="<second@researcher.example>",
            In_Reply_To=ack.extra_headers["Message-ID"],
        )
    )  # fmt: skip

    message = Message.objects.get(report=report)
    assert message.received_mail.signature == "good"  # her key is on file now
    assert open_report(report=report, actor=dave).messages[0].body == "It also works with tenant=3."
