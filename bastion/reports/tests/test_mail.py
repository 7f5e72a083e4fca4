"""Mail to reporters: the acknowledgement, staff replies and portal links; encrypted when we can.

No report content ever appears in clear mail. With a key, the whole body is PGP/MIME (RFC 3156),
signed by the org key: these tests decrypt it with gpg, as the reporter would.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from django.core import mail
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.models import Report
from bastion.reports.sealing import seal_field
from bastion.reports.services import (
    Submission,
    change_status,
    portal_url,
    post_message,
    reporter_actor,
    send_portal_links,
    submit_report,
)
from bastion.reports.tasks import acknowledge_waiting_reports, email_acknowledgement, email_staff_reply
from bastion.reports.tests.conftest import CANARY, a_file
from bastion.test import mail_text, rita
from bastion.vault.orgkey import get_org_key

pytestmark = pytest.mark.django_db


def raw(message) -> bytes:
    return message.message().as_bytes()


def parsed(message):
    return message_from_bytes(raw(message), policy=policy.default)


def decrypt(gpg, message, rita_key):
    """The inner MIME entity of a PGP/MIME mail, and gpg's status output, decrypted as rita would."""
    outer = parsed(message)
    assert outer.get_content_type() == "multipart/encrypted"
    assert outer.get_param("protocol") == "application/pgp-encrypted"
    version, payload = outer.iter_parts()
    assert version.get_content_type() == "application/pgp-encrypted"
    assert version.get_payload(decode=True).strip() == b"Version: 1"
    assert payload.get_content_type() == "application/octet-stream"
    armored = payload.get_payload(decode=True)
    assert armored.startswith(b"-----BEGIN PGP MESSAGE-----")
    gpg("--import", input=rita_key.secret)
    gpg("--import", input=get_org_key().armored_public().encode())
    result = gpg("--decrypt", input=armored)
    inner = message_from_bytes(result.stdout, policy=policy.default)
    return inner, result.stderr.decode(errors="replace")


def test_the_acknowledgement_has_the_tracking_id_link_and_receipt_but_no_content(submit):
    result = submit(attachments=[a_file()])
    report = result.report

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [rita.email]
    assert report.tracking_id in message.subject
    assert report.tracking_id in mail_text(message)
    assert result.portal_url in mail_text(message)
    assert result.receipt.statement in mail_text(message)
    assert result.receipt.org_key_fingerprint in mail_text(message)
    assert "gpg --verify receipt.asc" in mail_text(message)
    assert CANARY.encode() not in raw(message)
    assert b"/export" not in raw(message)
    assert parsed(message)["Auto-Submitted"] == "auto-generated"
    report.refresh_from_db()
    assert report.acknowledged_at is not None


def test_the_acknowledgement_is_sent_once_even_if_the_task_runs_again(submit):
    report = submit().report

    email_acknowledgement.call(report.pk)
    email_acknowledgement.call(report.pk)

    assert len(mail.outbox) == 1


def test_a_report_without_an_address_gets_no_mail(submit):
    submit(email="")
    assert mail.outbox == []


def test_with_a_public_key_the_acknowledgement_is_encrypted_and_signed(submit, gpg, rita_key):
    result = submit(public_key=rita_key.public)

    message = mail.outbox[0]
    assert message.body == ""
    assert result.portal_url.encode() not in raw(message)
    assert b"BEGIN PGP SIGNED MESSAGE" not in raw(message)  # the receipt is inside the encryption
    inner, status = decrypt(gpg, message, rita_key)
    assert "[GNUPG:] DECRYPTION_OKAY" in status
    assert "[GNUPG:] GOODSIG" in status
    validsig = next(line.split() for line in status.splitlines() if line.startswith("[GNUPG:] VALIDSIG"))
    assert validsig[-1] == get_org_key().fingerprint
    assert inner["Subject"] == message.subject  # the protected header
    body = inner.get_content()
    assert result.report.tracking_id in body
    assert result.portal_url in body
    assert result.receipt.statement in body.replace("\r\n", "\n")


def test_a_key_that_expired_since_makes_the_mail_fall_back_to_clear_without_content(
    db, django_capture_on_commit_callbacks, expired_key
):
    # Submitted without a key, then given one that has since expired (as if time had passed).
    with django_capture_on_commit_callbacks(execute=False):
        report = submit_report(
            submission=Submission(title=CANARY, description=CANARY, email=rita.email),
            channel="web",
            policy_version=1,
            actor=None,
        ).report
    reporter = report.reporter
    reporter.public_key = seal_field(reporter, "public_key", expired_key.public, key=report.data_key_plain())
    reporter.save()

    email_acknowledgement.call(report.pk)

    message = mail.outbox[0]
    assert "could not encrypt this email" in mail_text(message)
    assert report.tracking_id in mail_text(message)
    assert CANARY.encode() not in raw(message)


def test_a_staff_reply_in_clear_mail_says_only_that_there_is_a_message(
    submit, alice, django_capture_on_commit_callbacks
):
    report = submit().report
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        message = post_message(
            report=report, body=f"Can you retest? {CANARY}", visibility="public", actor=alice
        )

    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert "the message is not in this email" in mail_text(sent)
    assert portal_url(report) in mail_text(sent)
    assert CANARY.encode() not in raw(sent)
    assert parsed(sent)["In-Reply-To"] == f"<report.{report.uid}@bastion.example>"
    message.refresh_from_db()
    assert message.notified_at is not None
    email_staff_reply.call(message.pk)
    assert len(mail.outbox) == 1


def test_an_encrypted_staff_reply_carries_the_reply(
    submit, alice, gpg, rita_key, django_capture_on_commit_callbacks
):
    report = submit(public_key=rita_key.public).report
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        post_message(report=report, body=f"Can you retest? {CANARY}", visibility="public", actor=alice)

    sent = mail.outbox[0]
    assert CANARY.encode() not in raw(sent)
    inner, status = decrypt(gpg, sent, rita_key)
    assert "[GNUPG:] GOODSIG" in status
    assert f"Can you retest? {CANARY}" in inner.get_content()


def test_internal_notes_and_the_reporters_own_messages_send_no_mail(
    submit, alice, django_capture_on_commit_callbacks
):
    report = submit().report
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        post_message(report=report, body="note", visibility="internal", actor=alice)
        post_message(report=report, body="hello", visibility="public", actor=reporter_actor(report))

    assert mail.outbox == []


def test_portal_links_go_to_the_address_that_sent_the_reports(submit, django_capture_on_commit_callbacks):
    first = submit().report
    second = submit().report
    submit(email="someone.else@example.org")
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        count = send_portal_links(email=f"  {rita.email.upper()} ", actor=None, ip="192.0.2.1")

    assert count == 2
    (sent,) = mail.outbox
    assert sent.to == [rita.email]
    assert portal_url(first) in mail_text(sent)
    assert portal_url(second) in mail_text(sent)
    assert first.tracking_id in mail_text(sent)
    assert AuditEvent.objects.get(event=Event.PORTAL_LINKS_SENT).data == {"reports": 2}


def test_an_unknown_address_gets_nothing_and_the_answer_reveals_nothing(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert send_portal_links(email="nobody@example.org", actor=None) == 0
    assert mail.outbox == []
    assert AuditEvent.objects.get(event=Event.PORTAL_LINKS_SENT).data == {"reports": 0}


def test_the_hourly_sweep_acknowledges_reports_whose_mail_never_went_out(
    db, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):  # the enqueue after commit is "lost"
        report = submit_report(
            submission=Submission(title="t", description="d", email=rita.email),
            channel="api",
            policy_version=1,
            actor=None,
        ).report
    assert mail.outbox == []
    Report.objects.filter(pk=report.pk).update(received_at=timezone.now() - timedelta(minutes=30))

    with django_capture_on_commit_callbacks(execute=True):
        assert acknowledge_waiting_reports.call() == 1
    assert len(mail.outbox) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert acknowledge_waiting_reports.call() == 0


def test_a_report_whose_key_was_shredded_gets_no_more_mail(submit, alice, django_capture_on_commit_callbacks):
    report = submit().report
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False):
        message = post_message(report=report, body="reply", visibility="public", actor=alice)
    Report.objects.filter(pk=report.pk).update(acknowledged_at=None)
    report.data_key.shred()

    email_acknowledgement.call(report.pk)
    email_staff_reply.call(message.pk)
    with django_capture_on_commit_callbacks(execute=True):
        send_portal_links(email=rita.email, actor=None)

    assert mail.outbox == []


def signed_part(message) -> tuple[bytes, bytes]:
    """The raw first part of a multipart/signed mail (CRLF, as verifiers canonicalise) and its signature."""
    wire = raw(message)  # once: every message() call draws a new boundary
    outer = message_from_bytes(wire, policy=policy.default)
    assert outer.get_content_type() == "multipart/signed"
    assert outer.get_param("protocol") == "application/pgp-signature"
    boundary = b"--" + str(outer.get_boundary()).encode()
    pieces = wire.split(boundary)
    body = pieces[1][1:-1]  # the newline after the boundary line, and the one before the next
    signature = pieces[2].split(b"\n\n", 1)[1]
    return body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), signature


def test_clear_mail_is_pgp_mime_signed_and_gpg_verifies_it(submit, gpg):
    submit()
    (message,) = mail.outbox
    body, signature = signed_part(message)
    assert parsed(message).get_param("micalg") == "pgp-sha512"

    gpg("--import", input=get_org_key().armored_public().encode())
    (gpg.home / "body").write_bytes(body)
    (gpg.home / "body.asc").write_bytes(signature)
    result = gpg("--verify", str(gpg.home / "body.asc"), str(gpg.home / "body"))

    status = result.stderr.decode(errors="replace")
    assert "[GNUPG:] GOODSIG" in status
    assert re.search(rf"VALIDSIG \w+ .* {get_org_key().fingerprint}$", status, re.MULTILINE)
    tampered = body.replace(b"tracking ID", b"tracking id")
    (gpg.home / "body").write_bytes(tampered)
    assert gpg("--verify", str(gpg.home / "body.asc"), str(gpg.home / "body"), check=False).returncode != 0


def test_our_signed_mail_reads_as_good_through_our_own_inbound_reader(submit):
    from bastion.lib.inbound import SignatureStatus, read_mail

    submit()
    (message,) = mail.outbox
    org = get_org_key()

    read = read_mail(raw(message), org_key=None, sender_keys=lambda _address: [org.public])

    assert read.signature == SignatureStatus.GOOD
    assert read.signer_fingerprint == org.fingerprint
    assert "gpg --verify receipt.asc" in read.text


def test_a_status_change_is_mailed_threaded_on_the_report(submit, alice, django_capture_on_commit_callbacks):
    report = submit().report
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        change_status(report=report, to="triaged", actor=alice)

    (sent,) = mail.outbox
    assert report.tracking_id in sent.subject
    assert "Triaged" in sent.subject
    assert 'from "New" to "Triaged"' in mail_text(sent)
    assert parsed(sent)["In-Reply-To"] == f"<report.{report.uid}@bastion.example>"
    assert CANARY.encode() not in raw(sent)


def test_a_status_mail_for_a_change_already_superseded_is_not_sent(
    submit, alice, django_capture_on_commit_callbacks
):
    report = submit().report
    with django_capture_on_commit_callbacks(execute=False) as pending:
        change_status(report=report, to="triaged", actor=alice)
    with django_capture_on_commit_callbacks(execute=True):
        change_status(report=report, to="resolved", actor=alice)
    mail.outbox.clear()

    pending[0]()  # the "triaged" mail, run late

    assert mail.outbox == []
