"""Reports that came by email: how each email arrived, on the report page, and its original on request.

The rows are made by the inbound services, as ``receive_email`` makes them, with the facts a read
would have found given directly: these tests are about what staff see, not about reading mail.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.urls import reverse

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.models import MailState, ReceivedMail, Report
from bastion.reports.received import dedupe_digest
from bastion.reports.services.inbound import (
    MailFacts,
    file_mail_reply,
    file_mail_report,
    hold_mail,
    settle_held_mail,
)
from bastion.reports.tests.conftest import CANARY, a_submission
from bastion.test import rita

FPR = "0D5E2B7C4A1F9E83B6C2D40E71A5F3C98E2B4D16"
FINGERPRINT_HTML = f'<span class="mono fingerprint">{FPR}</span>'
AUTH_RESULT = "mx.bastion.example; dkim=pass header.d=researcher.example; spf=pass"


def raw_mail(message_id: str, body: str = f"The export leaks. {CANARY}") -> bytes:
    return (
        f"From: Rita Researcher <{rita.email}>\r\nTo: security@bastion.example\r\n"
        f"Subject: Invoice export\r\nMessage-ID: {message_id}\r\n\r\n{body}\r\n"
    ).encode()


def facts(**overrides: Any) -> MailFacts:
    """What reading a signed, PGP/MIME-encrypted email from rita would have found."""
    message_id = f"<{uuid.uuid4()}@researcher.example>"
    raw = overrides.pop("raw", raw_mail(message_id))
    envelope = {
        "from": rita.email,
        "from_name": rita.full_name,
        "subject": "Invoice export",
        "message_id": message_id,
        "to": "security@bastion.example",
        "date": "Tue, 03 Mar 2026 10:00:00 +0000",
        "authentication_results": [AUTH_RESULT],
        "defects": [],
    }
    envelope.update(overrides.pop("envelope", {}))
    values: dict[str, Any] = {
        "source": "lmtp",
        "raw": raw,
        "dedupe_digest": dedupe_digest(message_id, raw),
        "envelope": envelope,
        "encryption": "pgp_mime",
        "signature": "good",
        "signer_fingerprint": FPR,
        "dkim": "pass",
    }
    values.update(overrides)
    return MailFacts(**values)


def mailed_report(**overrides: Any) -> Report:
    return file_mail_report(
        facts=facts(**overrides),
        submission=a_submission(),
        attachments=[],
        policy_version=1,
        acknowledge=False,
    )


@pytest.fixture
def emailed(db) -> Report:
    """rita's report, opened by a signed, encrypted email."""
    return mailed_report()


def page(report: Report) -> str:
    return reverse("triage:report", args=[report.tracking_id])


def original(report: Report, mail: ReceivedMail) -> str:
    return reverse("triage:mail_original", args=[report.tracking_id, mail.uid])


# --- the report page ------------------------------------------------------------------------------


def test_the_report_page_shows_how_the_email_arrived_within_the_one_recorded_read(client_as, alice, emailed):
    html = client_as(alice).get(page(emailed)).content.decode()

    assert "Email, via LMTP" in html
    assert "PGP/MIME encrypted" in html
    assert f'Signed by <span class="mono fingerprint">{FPR}</span>' in html
    assert '<span class="badge badge-ok">pass</span>' in html  # DKIM
    assert AUTH_RESULT in html
    assert f"&lt;{rita.email}&gt;" in html
    mail = emailed.received_mails.get()
    assert f'href="{original(emailed, mail)}"' in html
    assert "Download original (.eml)" in html
    # The envelopes were opened as part of the page's read: one REPORT_VIEWED row, nothing more.
    (viewed,) = AuditEvent.objects.filter(event=Event.REPORT_VIEWED)
    assert viewed.actor_id == alice.pk
    assert viewed.data == {"scope": "staff"}
    assert not AuditEvent.objects.filter(event=Event.MAIL_ORIGINAL_OPENED).exists()


@pytest.mark.parametrize(
    ("signature", "fingerprint", "expected"),
    [
        (
            "good",
            FPR,
            f'class="badge badge-ok sig-good">Signed by <span class="mono fingerprint">{FPR}</span>',
        ),
        ("bad", "", 'class="badge badge-warn sig-bad">Signature does not verify: content changed?'),
        (
            "unknown_key",
            FPR,
            f"""class="badge sig-unknown">Signed by a key we don't know ({FINGERPRINT_HTML}""",
        ),
        ("unknown_key", "", """class="badge sig-unknown">Signed by a key we don't know</span>"""),
        ("none", "", 'class="badge sig-none">Not signed'),
    ],
)
def test_each_signature_state_has_its_own_badge(client_as, alice, db, signature, fingerprint, expected):
    report = mailed_report(signature=signature, signer_fingerprint=fingerprint, encryption="none", dkim="")

    html = client_as(alice).get(page(report)).content.decode().replace("&#x27;", "'")

    assert expected in html
    assert "not encrypted" in html
    assert 'DKIM</dt><dd><span class="muted">not checked' in html


def test_a_failed_dkim_check_and_inline_pgp_are_shown_as_such(client_as, alice, db):
    report = mailed_report(encryption="inline", dkim="fail", source="imap")

    html = client_as(alice).get(page(report)).content.decode()

    assert "inline PGP encrypted" in html
    assert '<span class="badge badge-warn">fail</span>' in html
    assert "Email, via IMAP poll" in html


def test_an_emailed_reply_shows_its_own_arrival_under_its_message(client_as, alice, emailed):
    reply = facts(signature="bad", signer_fingerprint="", source="mailgate")
    file_mail_reply(facts=reply, report=emailed, body="Here is more detail.", attachments=[])

    html = client_as(alice).get(page(emailed)).content.decode()

    conversation = html[html.index('id="conversation"') : html.index('id="reply"')]
    assert "Here is more detail." in conversation
    assert "Signature does not verify: content changed?" in conversation
    assert "Email, via mailgate" in conversation
    assert "How this email arrived" in conversation
    second = emailed.received_mails.get(message__isnull=False)
    assert original(emailed, second) in conversation
    # The opening email is shown with the report, not in the conversation.
    opening = emailed.received_mails.get(message=None)
    assert original(emailed, opening) not in conversation


def test_what_the_envelope_says_is_escaped_never_markup(client_as, alice, db):
    report = mailed_report(
        envelope={
            "subject": "<script>alert(1)</script>",
            "authentication_results": ['<img src=x onerror="1">'],
        }
    )

    html = client_as(alice).get(page(report)).content.decode()

    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html


def test_a_web_report_has_no_email_section(client_as, alice, report):
    html = client_as(alice).get(page(report)).content.decode()

    assert "Received by email" not in html
    assert "Download original" not in html


# --- the original ---------------------------------------------------------------------------------


def test_the_original_is_served_byte_for_byte_as_a_safe_attachment_and_recorded(client_as, alice, db):
    # HTML, a NUL and a byte that is no UTF-8: served as they came, for a mail client to judge.
    raw = (
        raw_mail("<m1@researcher.example>", body=f"<html><script>alert(1)</script>{CANARY}") + b"\x00\xff\r\n"
    )
    report = mailed_report(raw=raw)
    mail = report.received_mails.get()

    response = client_as(alice).get(original(report, mail))

    assert response.status_code == 200
    assert response.content == raw
    assert response["Content-Type"] == "message/rfc822"
    assert response["Content-Disposition"] == f'attachment; filename="{report.tracking_id}-1.eml"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    (opened,) = AuditEvent.objects.filter(event=Event.MAIL_ORIGINAL_OPENED)
    assert opened.actor_id == alice.pk
    assert opened.data == {"size": len(response.content)}
    assert not AuditEvent.objects.filter(event=Event.REPORT_VIEWED).exists()


def test_each_email_of_a_report_is_numbered_in_order_of_arrival(client_as, dave, emailed):
    file_mail_reply(facts=facts(), report=emailed, body="More.", attachments=[])
    reply = emailed.received_mails.get(message__isnull=False)

    response = client_as(dave).get(original(emailed, reply))

    assert response["Content-Disposition"] == f'attachment; filename="{emailed.tracking_id}-2.eml"'


def test_an_email_is_only_reached_through_its_own_report(client_as, alice, emailed):
    other = mailed_report()
    held = hold_mail(facts=facts(), state=MailState.FLOODED)

    client = client_as(alice)
    assert client.get(original(other, emailed.received_mails.get())).status_code == 404
    assert client.get(original(emailed, held)).status_code == 404
    assert not AuditEvent.objects.filter(event=Event.MAIL_ORIGINAL_OPENED).exists()


@pytest.mark.parametrize(("persona", "status"), [("alice", 200), ("dave", 200), ("charlie", 403)])
def test_only_triagers_and_admins_see_emails_and_originals(client_as, request, emailed, persona, status):
    client = client_as(request.getfixturevalue(persona))
    mail = emailed.received_mails.get()

    assert client.get(page(emailed)).status_code == status
    assert client.get(original(emailed, mail)).status_code == status
    opened = AuditEvent.objects.filter(event=Event.MAIL_ORIGINAL_OPENED).count()
    assert opened == (1 if status == 200 else 0)


def test_it_rejects_anonymous_visitors_with_a_sign_in_redirect(client, emailed):
    mail = emailed.received_mails.get()

    for url in (page(emailed), original(emailed, mail)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    assert not AuditEvent.objects.filter(event=Event.MAIL_ORIGINAL_OPENED).exists()


def test_the_original_cannot_be_posted_to(client_as, alice, emailed):
    response = client_as(alice).post(original(emailed, emailed.received_mails.get()))

    assert response.status_code == 405


# --- the inbox's link to held mail ----------------------------------------------------------------


def test_the_inbox_links_to_held_mail_with_how_much_waits(client_as, alice, db):
    hold_mail(facts=facts(), state=MailState.FLOODED)
    hold_mail(facts=facts(problem="no_key"), state=MailState.QUARANTINED)
    settle_held_mail(mail=hold_mail(facts=facts(), state=MailState.FLOODED), actor=alice, released=False)
    mailed_report()  # accepted mail is not held

    html = client_as(alice).get(reverse("triage:inbox")).content.decode()

    assert f'href="{reverse("intake:mailbox")}"' in html
    assert "Held mail (2)" in html


@pytest.mark.parametrize(
    ("note", "shown"),
    [
        ("unmatched_reply", "to no report we know"),
        ("not_the_reporter", "the sender is not that report&#x27;s reporter"),
        ("unverified_reply", "without proof it came from them"),
    ],
)
def test_why_a_reply_became_a_new_report_is_shown(client_as, alice, db, note, shown):
    report = mailed_report(problem=note)

    assert shown in client_as(alice).get(page(report)).content.decode()
