"""``receive_email``, end to end: mail in, reports and messages out, replies threaded, mail held back.

Encrypted mail is made by the gpg binary, as a researcher's client would; acknowledgements are
decrypted by it too. Tasks run inline (the test environment's ImmediateBackend), so each test sees
the mail Bastion sends in ``mail.outbox``.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart

import dkim  # type: ignore[import-untyped]  # dkimpy ships no type hints
import pytest
from django.core import mail
from django.db import connection

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.intake.mail.receive import (
    MailRefused,
    MailSource,
    Outcome,
    TemporaryMailFailure,
    accepts_recipient,
    receive_email,
    release_held_mail,
)
from bastion.lib import mailauth, openpgp
from bastion.lib.tests import mailcorpus as mc
from bastion.reports.models import Channel, MailState, Message, ReceivedMail, Report
from bastion.reports.services import open_report, reporter_actor, update_reporter
from bastion.reports.services.inbound import open_received_mail, settle_held_mail
from bastion.reports.tests.conftest import gpg, new_gpg, private_vault, rita_key  # noqa: F401 - fixtures
from bastion.test import mail_text, rita, run_at_once
from bastion.vault.orgkey import get_org_key

pytestmark = pytest.mark.django_db(transaction=True)

SECURITY = "security@bastion.example"
BODY = "The export endpoint returns every tenant's invoices.\n\nGET /export?tenant=2"


@pytest.fixture(autouse=True)
def mail_settings(settings, private_vault):  # noqa: F811 - the imported fixture
    settings.MAIL_ADDRESSES = [SECURITY]
    settings.MAIL_LIMIT_PER_SENDER = "1000/3600"
    settings.MAIL_LIMIT_GLOBAL = "1000/3600"
    settings.MAIL_TRUSTED_AUTHSERV_IDS = ["mx.bastion.example"]


def plain(
    *,
    sender: str = f"Rita Researcher <{rita.email}>",
    subject: str = "Invoice export leaks other tenants",
    body: str = BODY,
    message_id: str = "<first@researcher.example>",
    **headers: str,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = SECURITY
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def pgp_mime(armored: bytes, *, message_id: str = "<enc@researcher.example>") -> bytes:
    outer = MIMEMultipart("encrypted", protocol="application/pgp-encrypted")
    outer["From"] = f"Rita Researcher <{rita.email}>"
    outer["To"] = SECURITY
    outer["Subject"] = "..."
    outer["Message-ID"] = message_id
    outer.attach(MIMEApplication(b"Version: 1\r\n", "pgp-encrypted"))
    outer.attach(MIMEApplication(armored, "octet-stream"))
    return outer.as_bytes()


def receive(raw: bytes, source: MailSource = MailSource.LMTP):
    return receive_email(raw, source=source, recipient=SECURITY)


def outbox_to(address: str) -> list:
    return [m for m in mail.outbox if address in m.to]


@pytest.fixture
def rita_gpg(gpg, rita_key):  # noqa: F811 - the imported fixtures
    """rita's gpg, holding her key and our org key."""
    gpg("--import", input=rita_key.secret)
    gpg("--import", input=get_org_key().armored_public().encode())
    return gpg


def encrypt_as_rita(rita_gpg, rita_key, text: bytes, *, to: str | None = None) -> bytes:  # noqa: F811
    recipient = to or get_org_key().fingerprint
    return rita_gpg(
        "--armor", "--trust-model", "always", "--encrypt", "--sign", "-u", rita_key.fingerprint,
        "-r", recipient, input=text,
    ).stdout  # fmt: skip


# --- a new report ---------------------------------------------------------------------------------


def test_a_plain_mail_becomes_a_report_and_is_acknowledged_in_its_thread():
    received = receive(plain())

    assert received.outcome == Outcome.REPORT
    report = Report.objects.get(tracking_id=received.tracking_id)
    assert report.channel == Channel.EMAIL
    opened = open_report(report=report, actor=reporter_actor(report))
    assert opened.title == "Invoice export leaks other tenants"
    assert "every tenant's invoices" in opened.description
    assert opened.reporter.email == rita.email
    assert opened.reporter.name == "Rita Researcher"
    kept = ReceivedMail.objects.get(report=report)
    assert (kept.state, kept.source, kept.encryption, kept.signature) == ("accepted", "lmtp", "none", "none")

    (ack,) = outbox_to(rita.email)
    assert report.tracking_id in ack.subject
    assert ack.extra_headers["In-Reply-To"] == "<first@researcher.example>"
    assert "every tenant" not in mail_text(ack)  # no report content in clear mail


def test_the_original_is_kept_byte_for_byte_and_opening_it_is_audited(dave):
    raw = plain()
    report = Report.objects.get(tracking_id=receive(raw).tracking_id)

    opened = open_received_mail(mail=report.received_mails.get(), actor=dave)

    assert opened.raw == raw
    assert opened.envelope["from"] == rita.email
    assert AuditEvent.objects.filter(event=Event.MAIL_ORIGINAL_OPENED, actor_id=dave.pk).count() == 1


def test_the_same_message_delivered_twice_is_one_report():
    first = receive(plain())
    again = receive(plain(), MailSource.IMAP)

    assert again.outcome == Outcome.DUPLICATE
    assert Report.objects.count() == 1
    assert ReceivedMail.objects.count() == 1
    assert first.outcome == Outcome.REPORT


def test_the_same_message_delivered_twice_at_once_is_still_one_report():
    raw = plain()

    outcomes = run_at_once(lambda: receive(raw).outcome, times=3)

    assert sorted(outcomes) == sorted([Outcome.REPORT, Outcome.DUPLICATE, Outcome.DUPLICATE])
    assert Report.objects.count() == 1
    assert ReceivedMail.objects.count() == 1


def test_mail_without_a_message_id_is_deduplicated_by_its_bytes():
    msg = EmailMessage()
    msg["From"] = rita.email
    msg["Subject"] = "no id"
    msg.set_content(BODY)
    raw = msg.as_bytes()

    assert receive(raw).outcome == Outcome.REPORT
    assert receive(raw).outcome == Outcome.DUPLICATE


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"List_Id": "<announce.example.org>"},
    ],
)
def test_automatic_and_bulk_mail_is_filed_but_never_answered(headers):
    received = receive(plain(**headers))

    assert received.outcome == Outcome.REPORT
    assert mail.outbox == []
    assert ReceivedMail.objects.get().no_reply


def test_a_bounce_is_not_answered():
    received = receive(plain(sender="MAILER-DAEMON@mx.example.org", subject="Undelivered Mail Returned"))

    assert received.outcome == Outcome.REPORT
    assert mail.outbox == []


def test_mail_from_our_own_address_is_not_answered():
    receive(plain(sender=SECURITY))
    assert mail.outbox == []


def test_mail_over_the_size_limit_is_refused_with_a_bounce_text(settings):
    settings.MAIL_MAX_BYTES = 64 * 1024
    with pytest.raises(MailRefused, match="we accept up to 65,536"):
        receive(plain(body="x" * 70_000))
    assert not ReceivedMail.objects.exists()


def test_a_very_long_text_is_cut_in_the_report_and_attached_whole():
    body = "A long proof of concept line.\n" * 5000  # 150,000 characters
    report = Report.objects.get(tracking_id=receive(plain(body=body)).tracking_id)

    opened = open_report(report=report, actor=reporter_actor(report))
    assert "the whole text is attached" in opened.description
    assert [a.filename for a in opened.attachments] == ["message.txt"]


def test_html_only_mail_is_kept_sealed_and_shown_as_text():
    msg = EmailMessage()
    msg["From"] = rita.email
    msg["To"] = SECURITY
    msg["Subject"] = "HTML only"
    msg["Message-ID"] = "<html@researcher.example>"
    msg.set_content('<p>Look at <img src="https://tracker.example/pixel.gif"><b>this</b> bug</p>', "html")
    report = Report.objects.get(tracking_id=receive(msg.as_bytes()).tracking_id)

    opened = open_report(report=report, actor=reporter_actor(report))
    assert "this" in opened.description
    assert "<img" not in opened.description
    assert [a.content_type for a in opened.attachments] == ["text/html"]


def test_recipients_are_the_configured_addresses_only():
    assert accepts_recipient(SECURITY)
    assert accepts_recipient(f"<{SECURITY.upper()}>")
    assert not accepts_recipient("postmaster@bastion.example")


# --- threading ------------------------------------------------------------------------------------


def test_a_reply_to_our_acknowledgement_lands_on_the_report():
    report = Report.objects.get(tracking_id=receive(plain()).tracking_id)
    (ack,) = outbox_to(rita.email)

    received = receive(
        plain(
            subject="Re: we received your report",
            body="Here is a second proof of concept.",
            message_id="<second@researcher.example>",
            In_Reply_To=ack.extra_headers["Message-ID"],
        )
    )

    assert (received.outcome, received.tracking_id) == (Outcome.MESSAGE, report.tracking_id)
    message = Message.objects.get(report=report)
    assert message.author_kind == "reporter"
    assert message.received_mail.state == MailState.ACCEPTED
    opened = open_report(report=report, actor=reporter_actor(report))
    assert opened.messages[0].body == "Here is a second proof of concept."


@pytest.mark.parametrize(
    "names_it",
    [
        {"subject": "More on [{tracking_id}]"},
        {"subject": "also", "References": "<first@researcher.example>"},  # her own earlier Message-ID
    ],
    ids=["tracking-id", "her-earlier-message-id"],
)
def test_a_reply_that_only_names_the_report_starts_a_new_one_and_says_why(names_it):
    # Her address in From proves nothing: anyone can write it. Without one of our Message-IDs, DKIM
    # for her domain or her key's signature, it must not go into her report.
    report = Report.objects.get(tracking_id=receive(plain()).tracking_id)
    mail.outbox.clear()
    headers = {k: v.format(tracking_id=report.tracking_id) for k, v in names_it.items()}

    received = receive(plain(message_id="<third@r.example>", **headers))

    assert received.outcome == Outcome.REPORT
    assert not Message.objects.filter(report=report).exists()
    (ack,) = outbox_to(rita.email)
    assert "carried no proof that it came from you" in mail_text(ack)


def test_a_reply_signed_by_the_reporters_key_on_file_lands_on_the_report(rita_gpg, rita_key):  # noqa: F811
    report = Report.objects.get(tracking_id=receive(plain()).tracking_id)
    update_reporter(report=report, actor=reporter_actor(report), public_key=rita_key.public)
    signed_text = b'Content-Type: text/plain; charset="utf-8"\r\n\r\nA second proof of concept.\r\n'
    signature = rita_gpg("--armor", "--detach-sign", "-u", rita_key.fingerprint, input=signed_text).stdout
    subject = f"Re: [{report.tracking_id}]"
    raw = mc.mail(mc.pgp_mime_signed(signed_text, signature), sender=rita.email, subject=subject)

    received = receive(raw)

    assert (received.outcome, received.tracking_id) == (Outcome.MESSAGE, report.tracking_id)
    assert Message.objects.get(report=report).received_mail.signature == "good"


def test_a_reply_to_a_shredded_report_starts_a_new_one_instead_of_failing():
    report = Report.objects.get(tracking_id=receive(plain()).tracking_id)
    (ack,) = outbox_to(rita.email)
    report.data_key.shred()

    received = receive(plain(message_id="<late@r.example>", In_Reply_To=ack.extra_headers["Message-ID"]))

    assert received.outcome == Outcome.REPORT
    assert received.tracking_id != report.tracking_id


def test_a_fault_of_ours_quarantines_the_mail_instead_of_failing_forever(monkeypatch, caplog):
    from bastion.lib import inbound

    secret = "CANARY-" + "fault-7c1e"  # built, so the traceback's source line does not show it

    def broken(*args, **kwargs):
        raise RuntimeError(f"a bug quoting the mail: {secret}")

    monkeypatch.setattr(inbound, "read_mail", broken)

    received = receive(plain())

    assert received.outcome == Outcome.QUARANTINED
    assert ReceivedMail.objects.get().problem == "error"
    assert mail.outbox == []  # no "we could not decrypt" notice for our own fault
    assert "RuntimeError" in caplog.text
    assert "CANARY-fault-7c1e" not in caplog.text  # class and frames only, never the message


def test_someone_else_naming_a_tracking_id_starts_a_new_report_and_is_told_so():
    report = Report.objects.get(tracking_id=receive(plain()).tracking_id)
    mail.outbox.clear()

    received = receive(
        plain(
            sender="mallory@attacker.example",
            subject=f"Re: [{report.tracking_id}]",
            message_id="<m@attacker.example>",
        )
    )

    assert received.outcome == Outcome.REPORT
    assert received.tracking_id != report.tracking_id
    assert not Message.objects.filter(report=report).exists()
    (ack,) = outbox_to("mallory@attacker.example")
    assert "only the original reporter's address" in mail_text(ack)


def test_an_unmatched_reply_from_a_known_reporter_starts_a_new_report_and_says_so():
    receive(plain())
    mail.outbox.clear()

    received = receive(
        plain(subject="Re: other", message_id="<x@r.example>", In_Reply_To="<lost@elsewhere.example>")
    )

    assert received.outcome == Outcome.REPORT
    (ack,) = outbox_to(rita.email)
    assert "could not match it to an earlier report" in mail_text(ack)


# --- OpenPGP --------------------------------------------------------------------------------------


def test_pgp_mime_mail_is_decrypted_its_signature_checked_and_answered_encrypted(rita_gpg, rita_key):  # noqa: F811
    inner = EmailMessage()
    inner["Subject"] = "Invoice export leaks other tenants"
    inner.set_content(BODY)
    inner.add_attachment(rita_key.public.encode(), "application", "pgp-keys", filename="rita.asc")
    raw = pgp_mime(encrypt_as_rita(rita_gpg, rita_key, inner.as_bytes()))

    received = receive(raw)

    assert received.outcome == Outcome.REPORT
    report = Report.objects.get(tracking_id=received.tracking_id)
    kept = report.received_mails.get()
    assert kept.encryption == "pgp_mime"
    assert kept.signature == "good"
    assert kept.signer_fingerprint == rita_key.fingerprint
    opened = open_report(report=report, actor=reporter_actor(report))
    assert "every tenant's invoices" in opened.description
    assert opened.reporter.public_key_fingerprint == rita_key.fingerprint
    # The acknowledgement goes back encrypted to the key the mail brought.
    (ack,) = outbox_to(rita.email)
    outer = message_from_bytes(ack.message().as_bytes(), policy=policy.default)
    assert outer.get_content_type() == "multipart/encrypted"
    assert BODY.encode() not in raw  # and nothing of it was in clear on the way in


def test_an_encrypted_reply_threads_onto_the_report(rita_gpg, rita_key):  # noqa: F811
    report = Report.objects.get(tracking_id=receive(plain()).tracking_id)
    (ack,) = outbox_to(rita.email)
    inner = EmailMessage()
    inner["Subject"] = f"Re: [{report.tracking_id}]"
    inner.set_content("The fix in 4.3 does not cover /export.csv")
    raw = pgp_mime(encrypt_as_rita(rita_gpg, rita_key, inner.as_bytes()), message_id="<enc2@r.example>")
    answering = message_from_bytes(raw, policy=policy.default)
    answering["In-Reply-To"] = ack.extra_headers["Message-ID"]

    received = receive(answering.as_bytes())

    assert (received.outcome, received.tracking_id) == (Outcome.MESSAGE, report.tracking_id)
    message = Message.objects.get(report=report)
    assert message.received_mail.encryption == "pgp_mime"
    assert message.received_mail.signature == "unknown_key"  # her key is not on file for this report


def test_mail_we_cannot_decrypt_is_quarantined_whole_and_the_sender_told(rita_gpg, rita_key, dave):  # noqa: F811
    armored = rita_gpg(
        "--armor", "--trust-model", "always", "--encrypt", "-r", rita_key.fingerprint, input=b"secret"
    ).stdout  # fmt: skip
    raw = pgp_mime(armored)

    received = receive(raw)

    assert received.outcome == Outcome.QUARANTINED
    assert not Report.objects.exists()
    held = ReceivedMail.objects.get()
    assert (held.state, held.problem) == (MailState.QUARANTINED, "not_for_us")
    assert open_received_mail(mail=held, actor=dave).raw == raw
    assert AuditEvent.objects.filter(event=Event.MAIL_QUARANTINED).count() == 1
    (notice,) = outbox_to(rita.email)
    assert get_org_key().fingerprint in mail_text(notice)
    assert "could not decrypt" in notice.subject


def test_a_damaged_encrypted_mail_is_quarantined(rita_gpg, rita_key):  # noqa: F811
    armored = encrypt_as_rita(rita_gpg, rita_key, b"Subject: x\r\n\r\nhello\r\n")
    lines = armored.splitlines()
    middle = len(lines) // 2
    lines[middle] = bytes(reversed(lines[middle]))
    received = receive(pgp_mime(b"\n".join(lines)))

    assert received.outcome == Outcome.QUARANTINED
    assert ReceivedMail.objects.get().state == MailState.QUARANTINED


def test_a_missing_openpgp_engine_is_a_temporary_failure_and_stores_nothing(
    monkeypatch,
    rita_gpg,
    rita_key,  # noqa: F811
):
    raw = pgp_mime(encrypt_as_rita(rita_gpg, rita_key, b"Subject: x\r\n\r\nhello\r\n"))
    monkeypatch.setattr(openpgp, "SQOP", "sqop-is-not-installed")

    with pytest.raises(TemporaryMailFailure):
        receive(raw)
    assert not ReceivedMail.objects.exists()
    assert not Report.objects.exists()


# --- floods ---------------------------------------------------------------------------------------


def test_a_mailbomb_is_held_unanswered_and_staff_are_alerted_once(settings, dave):
    settings.MAIL_LIMIT_PER_SENDER = "2/3600"
    outcomes = [receive(plain(message_id=f"<bomb{n}@r.example>")).outcome for n in range(5)]

    assert outcomes == [Outcome.REPORT, Outcome.REPORT, Outcome.FLOODED, Outcome.FLOODED, Outcome.FLOODED]
    assert ReceivedMail.objects.filter(state=MailState.FLOODED).count() == 3
    assert len(outbox_to(rita.email)) == 2  # the two under the limit were acknowledged
    alerts = outbox_to(dave.email)
    assert len(alerts) == 1
    assert "/mailbox/" in alerts[0].body


def test_staff_can_release_held_mail_and_it_becomes_a_report(settings, dave):
    settings.MAIL_LIMIT_PER_SENDER = "1/3600"
    receive(plain(message_id="<ok@r.example>"))
    receive(plain(message_id="<held@r.example>", subject="The second one"))
    held = ReceivedMail.objects.get(state=MailState.FLOODED)

    released = release_held_mail(mail=held, actor=dave)

    assert released.outcome == Outcome.REPORT
    assert not ReceivedMail.objects.filter(state=MailState.FLOODED).exists()
    assert held.data_key.__class__.objects.get(pk=held.data_key_id).is_destroyed
    assert AuditEvent.objects.filter(event=Event.MAIL_RELEASED).count() == 1


def test_held_mail_is_released_once_only(settings, dave):
    settings.MAIL_LIMIT_PER_SENDER = "1/3600"
    receive(plain(message_id="<ok@r.example>"))
    receive(plain(message_id="<held@r.example>"))
    held = ReceivedMail.objects.get(state=MailState.FLOODED)
    release_held_mail(mail=held, actor=dave)

    with pytest.raises(ValueError, match="still held"):
        release_held_mail(mail=held, actor=dave)  # a second click, or a colleague at the same time
    assert Report.objects.count() == 2


def test_staff_can_dismiss_held_mail_which_stays_fetchable(settings, dave):
    settings.MAIL_LIMIT_PER_SENDER = "1/3600"
    receive(plain(message_id="<ok@r.example>"))
    raw = plain(message_id="<held@r.example>")
    receive(raw)
    held = ReceivedMail.objects.get(state=MailState.FLOODED)

    settle_held_mail(mail=held, actor=dave, released=False)

    held.refresh_from_db()
    assert held.handled_at is not None
    assert open_received_mail(mail=held, actor=dave).raw == raw


# --- nothing in clear -----------------------------------------------------------------------------


def test_no_plaintext_of_the_mail_reaches_the_database():
    canary = "CANARY-mail-4b1f-do-not-leak"
    receive(plain(subject=f"Subject {canary}", body=f"Body {canary}"))
    with connection.cursor() as cursor:
        for table in ("reports_receivedmail", "reports_report", "reports_reporter", "audit_auditevent"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            dump = repr(cursor.fetchall())
            assert canary not in dump
            assert not re.search(re.escape(rita.email), dump)


# --- keys on replies ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dkim_key() -> tuple[bytes, bytes]:
    """(PEM private key, DNS TXT record) for selector "sel" of rita's domain."""
    return mc.dkim_keypair()


def reply_with_key(report: Report, key: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = rita.email
    msg["To"] = SECURITY
    msg["Subject"] = f"Re: [{report.tracking_id}] my key"
    msg["Message-ID"] = "<key@researcher.example>"
    msg["In-Reply-To"] = f"<report.{report.uid}@bastion.example>"  # our acknowledgement's
    msg.set_content("Please encrypt to this key from now on.")
    msg.add_attachment(key.encode(), "application", "pgp-keys", filename="rita.asc")
    return msg.as_bytes()


def test_a_key_on_a_reply_without_dkim_is_not_adopted(rita_key):  # noqa: F811
    report = Report.objects.get(tracking_id=receive(plain()).tracking_id)

    assert receive(reply_with_key(report, rita_key.public)).outcome == Outcome.MESSAGE

    report.reporter.refresh_from_db()
    assert report.reporter.public_key is None


def test_a_key_on_a_reply_dkim_signed_by_the_senders_domain_is_adopted(
    settings,
    monkeypatch,
    dkim_key,
    rita_key,  # noqa: F811
):
    pem, record = dkim_key
    domain = rita.email.rpartition("@")[2].encode()
    settings.MAIL_DKIM_CHECK = True
    records = {b"sel._domainkey." + domain + b".": record}
    monkeypatch.setattr(mailauth, "system_dns", lambda: lambda name, timeout=5: records.get(name))
    report = Report.objects.get(tracking_id=receive(plain()).tracking_id)
    raw = reply_with_key(report, rita_key.public)
    signed = dkim.sign(raw, b"sel", domain, pem, include_headers=[b"from", b"to", b"subject"]) + raw

    assert receive(signed).outcome == Outcome.MESSAGE

    opened = open_report(report=report, actor=reporter_actor(report))
    assert opened.reporter.public_key_fingerprint == rita_key.fingerprint
    assert Message.objects.get(report=report).received_mail.dkim == "pass"


# --- bad input: each shape is stored and surfaced, none is lost -----------------------------------


def _truncated() -> bytes:
    whole = mc.mail(
        mc.multipart(
            "mixed",
            [mc.text_part("first part"), mc.attachment("a.bin", "application/octet-stream", b"%PDF" * 500)],
            boundary="b",
        )
    )
    return whole[: whole.index(b"Content-Transfer-Encoding: base64") + 60]


def _huge_headers() -> bytes:
    return (
        b"From: " + b"(" * 20_000 + b"rita@example.net\r\n"
        b"To: " + b"u@example.org, " * 20_000 + b"\r\n"
        b"Subject: " + b"=?utf-8?q?x?= " * 5_000 + b"\r\n"
        b"Message-ID: <huge@example.net>\r\n\r\nbody\r\n"
    )


def _deeply_nested() -> bytes:
    raw = b"From: rita@example.net\r\nMessage-ID: <deep@example.net>\r\n"
    raw += b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n--b0\r\n" + mc.text_part("shallow") + b"\r\n"
    for level in range(1, 1500):
        raw += b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (level - 1, level)
    return raw + b"".join(b"--b%d--\r\n" % level for level in reversed(range(1500)))


def _wrong_charset() -> bytes:
    return (
        b"From: rita@example.net\r\nMessage-ID: <cs@example.net>\r\n"
        b"Content-Type: text/plain; charset=klingon\r\n\r\ncaf\xe9 \xff\xfe\r\n"
    )


def _zero_byte_parts() -> bytes:
    parts = [mc.text_part("see attached"), mc.attachment("empty.bin", "application/octet-stream", b"")]
    return mc.mail(mc.multipart("mixed", parts, boundary="z"))


@pytest.mark.parametrize(
    ("build", "outcome", "defect"),
    [
        (_truncated, Outcome.REPORT, "closing boundary is missing"),
        (_huge_headers, Outcome.REPORT, "cut"),
        (_deeply_nested, Outcome.REPORT, "nested deeper than"),
        (_wrong_charset, Outcome.REPORT, ""),
        (_zero_byte_parts, Outcome.REPORT, None),
    ],
    ids=["truncated", "huge-headers", "nested", "wrong-charset", "zero-byte"],
)
def test_hostile_mail_is_stored_whole_and_its_defects_shown_to_staff(build, outcome, defect, dave):
    raw = build()

    received = receive(raw)

    assert received.outcome == outcome
    kept = ReceivedMail.objects.get()
    opened = open_received_mail(mail=kept, actor=dave)
    assert opened.raw == raw  # kept byte for byte, whatever was wrong with it
    if defect is not None:
        assert any(defect in note for note in opened.envelope["defects"])


def test_a_signature_over_tampered_content_is_stored_and_shown_bad(rita_gpg, rita_key):  # noqa: F811
    signed_text = b'Content-Type: text/plain; charset="utf-8"\r\n\r\nThe PoC is attached.\r\n'
    signature = rita_gpg("--armor", "--detach-sign", "-u", rita_key.fingerprint, input=signed_text).stdout
    tampered = signed_text.replace(b"attached", b"withdrawn")
    report = Report.objects.get(tracking_id=receive(plain()).tracking_id)
    update_reporter(report=report, actor=reporter_actor(report), public_key=rita_key.public)
    answers_ack = f"In-Reply-To: <report.{report.uid}@bastion.example>"
    raw = mc.mail(mc.pgp_mime_signed(tampered, signature), sender=rita.email, extra=[answers_ack])

    received = receive(raw)

    assert received.outcome == Outcome.MESSAGE
    assert Message.objects.get(report=report).received_mail.signature == "bad"
