"""The held-mail queue: a list that opens nothing, an audited page per email, release and dismiss.

Held rows are made by ``hold_mail``, as ``receive_email`` makes them. Releasing reads the original
for real (``lib.inbound``), so the released email becomes a report just as it would have on arrival.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.intake.mail import views
from bastion.reports.mail import message_id
from bastion.reports.models import MailState, ReceivedMail, Report
from bastion.reports.received import dedupe_digest
from bastion.reports.services.embargo import set_embargo
from bastion.reports.services.inbound import MailFacts, file_mail_report, hold_mail, settle_held_mail
from bastion.reports.tests.conftest import CANARY, a_submission, private_vault  # noqa: F401 - fixture
from bastion.test import rita

pytestmark = pytest.mark.django_db

SECURITY = "security@bastion.example"
SUBJECT = f"Mailbomb {CANARY}"


@pytest.fixture(autouse=True)
def mail_settings(settings, private_vault):  # noqa: F811 - the imported fixture
    settings.MAIL_ADDRESSES = [SECURITY]
    settings.MAIL_TRUSTED_AUTHSERV_IDS = ["mx.bastion.example"]


def raw_mail(message_id: str, *, headers: str = "", body: str = f"The export leaks. {CANARY}") -> bytes:
    content_type = "Content-Type: text/plain; charset=utf-8\r\n" if "Content-Type" not in headers else ""
    return (
        f"From: Rita Researcher <{rita.email}>\r\nTo: {SECURITY}\r\nSubject: {SUBJECT}\r\n"
        f"Message-ID: {message_id}\r\nDate: Tue, 03 Mar 2026 10:00:00 +0000\r\n{headers}{content_type}"
        f"\r\n{body}\r\n"
    ).encode()


def facts(*, headers: str = "", body: str = f"The export leaks. {CANARY}", **overrides: Any) -> MailFacts:
    """An email as intake keeps it before reading it: the header envelope only, as flooded mail has."""
    message_id = f"<{uuid.uuid4()}@researcher.example>"
    raw = raw_mail(message_id, headers=headers, body=body)
    envelope = {
        "from": rita.email,
        "from_name": rita.full_name,
        "subject": SUBJECT,
        "message_id": message_id,
        "to": SECURITY,
        "date": "Tue, 03 Mar 2026 10:00:00 +0000",
    }
    envelope.update(overrides.pop("envelope", {}))
    values: dict[str, Any] = {
        "source": "lmtp",
        "raw": raw,
        "dedupe_digest": dedupe_digest(message_id, raw),
        "envelope": envelope,
    }
    values.update(overrides)
    return MailFacts(**values)


def flooded(**overrides: Any) -> ReceivedMail:
    return hold_mail(facts=facts(**overrides), state=MailState.FLOODED)


def quarantined(**overrides: Any) -> ReceivedMail:
    read = {
        "encryption": "pgp_mime",
        "problem": "no_key",
        "envelope": {"authentication_results": ["mx.bastion.example; dkim=pass"], "defects": ["NoBoundary"]},
    }
    return hold_mail(facts=facts(**(read | overrides)), state=MailState.QUARANTINED)


def received_at(mail: ReceivedMail, moment: datetime) -> None:
    ReceivedMail.objects.filter(pk=mail.pk).update(received_at=moment)


def detail(mail: ReceivedMail) -> str:
    return reverse("intake:held_mail", args=[mail.uid])


def urls(mail: ReceivedMail) -> dict[str, tuple[str, str]]:
    return {
        "list": ("get", reverse("intake:mailbox")),
        "detail": ("get", detail(mail)),
        "original": ("get", reverse("intake:held_mail_original", args=[mail.uid])),
        "release": ("post", reverse("intake:release_mail", args=[mail.uid])),
        "dismiss": ("post", reverse("intake:dismiss_mail", args=[mail.uid])),
    }


def opened_count() -> int:
    return AuditEvent.objects.filter(event=Event.MAIL_ORIGINAL_OPENED).count()


def notes(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- who may see it -------------------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_sign_in(client):
    mail = flooded()

    for method, url in urls(mail).values():
        response = getattr(client, method)(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    assert opened_count() == 0
    assert ReceivedMail.objects.get(pk=mail.pk).handled_at is None


def test_it_rejects_viewers(client_as, charlie):
    mail = flooded()
    client = client_as(charlie)

    for method, url in urls(mail).values():
        assert getattr(client, method)(url).status_code == 403
    assert opened_count() == 0
    assert ReceivedMail.objects.get(pk=mail.pk).handled_at is None


@pytest.mark.parametrize("persona", ["alice", "dave"])
def test_triagers_and_admins_see_the_queue_and_each_email(client_as, request, persona):
    mail = flooded()
    client = client_as(request.getfixturevalue(persona))

    assert client.get(reverse("intake:mailbox")).status_code == 200
    assert client.get(detail(mail)).status_code == 200
    assert client.get(urls(mail)["original"][1]).status_code == 200


def test_mail_that_became_a_report_is_not_reached_here(client_as, alice):
    report = file_mail_report(
        facts=facts(), submission=a_submission(), attachments=[], policy_version=1, acknowledge=False
    )
    accepted = report.received_mails.get()
    client = client_as(alice)

    assert client.get(detail(accepted)).status_code == 404
    assert client.get(urls(accepted)["original"][1]).status_code == 404
    assert client.post(urls(accepted)["dismiss"][1]).status_code == 404
    assert opened_count() == 0


def test_release_and_dismiss_need_a_post_with_a_csrf_token(alice):
    mail = flooded()
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice, backend="allauth.account.auth_backends.AuthenticationBackend")

    assert client.get(urls(mail)["dismiss"][1]).status_code == 405
    assert client.get(urls(mail)["release"][1]).status_code == 405
    assert client.post(urls(mail)["dismiss"][1]).status_code == 403
    assert client.post(urls(mail)["release"][1]).status_code == 403
    assert ReceivedMail.objects.get(pk=mail.pk).handled_at is None


# --- the list -------------------------------------------------------------------------------------


def test_the_list_shows_clear_metadata_only_and_opens_nothing(client_as, alice):
    mail = quarantined(source="imap")

    html = client_as(alice).get(reverse("intake:mailbox")).content.decode()

    assert detail(mail) in html
    assert "Quarantined" in html
    assert "imap" in html
    assert "no_key" in html
    assert "PGP/MIME" in html
    # Nothing sealed: not the subject, not the sender, not the body.
    assert CANARY not in html
    assert "Mailbomb" not in html
    assert rita.email not in html
    assert opened_count() == 0


def test_the_list_is_held_mail_not_yet_handled_newest_first_in_the_viewers_time_zone(client_as, alice):
    alice.time_zone = "Asia/Tokyo"
    alice.save(update_fields=["time_zone"])
    older, newer, dismissed = flooded(), quarantined(), flooded()
    received_at(older, datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    received_at(newer, datetime(2026, 3, 4, 10, 0, tzinfo=UTC))
    settle_held_mail(mail=dismissed, actor=alice, released=False)
    file_mail_report(
        facts=facts(), submission=a_submission(), attachments=[], policy_version=1, acknowledge=False
    )

    response = client_as(alice).get(reverse("intake:mailbox"))

    html = response.content.decode()
    assert [m.pk for m in response.context["page"]] == [newer.pk, older.pk]
    assert "Received (Asia/Tokyo)" in html
    assert html.index("2026-03-04 19:00") < html.index("2026-03-03 19:00")
    assert detail(dismissed) not in html


def test_the_list_is_paginated(client_as, alice, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    mails = [flooded() for _ in range(3)]
    for day, mail in enumerate(mails, start=1):
        received_at(mail, datetime(2026, 3, day, tzinfo=UTC))
    client = client_as(alice)

    first = client.get(reverse("intake:mailbox")).content.decode()
    second = client.get(reverse("intake:mailbox"), {"page": 2}).content.decode()

    assert detail(mails[2]) in first
    assert detail(mails[1]) in first
    assert detail(mails[0]) not in first
    assert detail(mails[0]) in second
    assert "Page 1 of 2" in first
    assert 'rel="next"' in first


def test_an_empty_queue_says_so(client_as, alice):
    assert "No held mail." in client_as(alice).get(reverse("intake:mailbox")).content.decode()


# --- one email ------------------------------------------------------------------------------------


def test_the_email_page_shows_its_envelope_and_records_the_opening(client_as, alice):
    mail = quarantined()

    html = client_as(alice).get(detail(mail)).content.decode()

    assert f"{rita.full_name} &lt;{rita.email}&gt;" in html
    assert SUBJECT in html
    assert "Tue, 03 Mar 2026 10:00:00 +0000" in html
    assert "mx.bastion.example; dkim=pass" in html
    assert "NoBoundary" in html
    assert "no_key" in html
    assert "Download original" in html
    assert "Dismiss</button>" in html
    assert "Release</button>" not in html  # quarantined mail cannot be read again
    (opened,) = AuditEvent.objects.filter(event=Event.MAIL_ORIGINAL_OPENED)
    assert opened.actor_id == alice.pk
    assert opened.target_id == str(mail.pk)


def test_a_flooded_email_can_be_released_and_was_never_checked(client_as, alice):
    html = client_as(alice).get(detail(flooded())).content.decode()

    assert "Release</button>" in html
    assert "Dismiss</button>" in html
    assert "not checked" in html
    assert "not read yet" in html


def test_what_the_envelope_says_is_escaped(client_as, alice):
    mail = quarantined(envelope={"subject": "<script>alert(1)</script>", "defects": ["<b>x</b>"]})

    html = client_as(alice).get(detail(mail)).content.decode()

    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>x</b>" not in html


def test_the_original_is_served_byte_for_byte_as_a_safe_attachment_and_recorded(client_as, dave):
    held = facts()
    mail = hold_mail(facts=held, state=MailState.FLOODED)

    response = client_as(dave).get(urls(mail)["original"][1])

    assert response["Content-Type"] == "message/rfc822"
    assert response["Content-Disposition"] == f'attachment; filename="held-{mail.uid}.eml"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert response.content == held.raw
    (opened,) = AuditEvent.objects.filter(event=Event.MAIL_ORIGINAL_OPENED)
    assert opened.actor_id == dave.pk


# --- dismiss --------------------------------------------------------------------------------------


def test_dismissing_keeps_the_email_but_takes_it_off_the_queue(client_as, alice):
    mail = quarantined()
    client = client_as(alice)

    response = client.post(urls(mail)["dismiss"][1])

    assert response.status_code == 303
    assert response["Location"] == reverse("intake:mailbox")
    assert "Dismissed. The original is kept and can still be downloaded." in notes(response)
    kept = ReceivedMail.objects.get(pk=mail.pk)
    assert kept.handled_at is not None
    (dismissed,) = AuditEvent.objects.filter(event=Event.MAIL_DISMISSED)
    assert dismissed.actor_id == alice.pk
    assert detail(mail) not in client.get(reverse("intake:mailbox")).content.decode()
    page = client.get(detail(mail)).content.decode()
    assert "Dismissed" in page
    assert "Dismiss</button>" not in page
    assert client.get(urls(mail)["original"][1]).status_code == 200


def test_dismissing_twice_records_it_once(client_as, alice):
    mail = flooded()
    client = client_as(alice)
    client.post(urls(mail)["dismiss"][1])

    response = client.post(urls(mail)["dismiss"][1])

    assert response.status_code == 303
    assert "That email was already dismissed." in notes(response)
    assert AuditEvent.objects.filter(event=Event.MAIL_DISMISSED).count() == 1


# --- release --------------------------------------------------------------------------------------


def test_releasing_a_flooded_email_files_it_and_goes_to_its_report(client_as, alice):
    mail = flooded()

    response = client_as(alice).post(urls(mail)["release"][1])

    report = Report.objects.get()
    assert response.status_code == 303
    assert response["Location"] == reverse("triage:report", args=[report.tracking_id])
    assert f"Released: the email became report {report.tracking_id}." in notes(response)
    assert not ReceivedMail.objects.filter(pk=mail.pk).exists()
    assert report.received_mails.count() == 1
    (released,) = AuditEvent.objects.filter(event=Event.MAIL_RELEASED)
    assert released.actor_id == alice.pk
    assert opened_count() == 1


def test_a_released_reply_goes_to_the_report_it_answers(client_as, alice):
    first = facts()
    report = file_mail_report(
        facts=first, submission=a_submission(), attachments=[], policy_version=1, acknowledge=False
    )
    # It answers our acknowledgement: a Message-ID of ours is what proves a reply (see find_thread).
    ours = message_id("report", report.uid)
    mail = flooded(headers=f"In-Reply-To: {ours}\r\n", body="One more thing.")

    response = client_as(alice).post(urls(mail)["release"][1])

    assert response["Location"] == reverse("triage:report", args=[report.tracking_id])
    assert f"Released: the email was added as a reply to {report.tracking_id}." in notes(response)
    assert report.received_mails.count() == 2
    assert Report.objects.count() == 1


def an_embargoed_report_and_a_held_reply_to_it(alice) -> tuple[Report, ReceivedMail]:
    """A mail report alice put under embargo (so only she is granted), and a flooded reply to it."""
    report = file_mail_report(
        facts=facts(), submission=a_submission(), attachments=[], policy_version=1, acknowledge=False
    )
    set_embargo(report=report, ends_at=timezone.now() + timedelta(days=10), reason="Fix due", actor=alice)
    reply = flooded(headers=f"In-Reply-To: {message_id('report', report.uid)}\r\n", body="One more thing.")
    return report, reply


@pytest.mark.parametrize("persona", ["bob", "dave"])
def test_a_released_reply_to_an_embargoed_report_names_it_to_no_one_without_a_grant(
    client_as, alice, request, persona
):
    report, mail = an_embargoed_report_and_a_held_reply_to_it(alice)
    releaser = request.getfixturevalue(persona)

    response = client_as(releaser).post(urls(mail)["release"][1])

    assert response.status_code == 303
    assert response["Location"] == reverse("intake:mailbox")
    shown = notes(response)
    assert shown == [
        "Released: the email was filed as a reply to a report you cannot see (it is under embargo)."
    ]
    assert report.received_mails.count() == 2  # filed all the same: the embargo hides it, it loses nothing
    page = client_as(releaser).get(reverse("intake:mailbox"), follow=True).content.decode()
    assert report.tracking_id not in page


def test_a_released_reply_to_an_embargoed_report_goes_to_it_for_the_granted(client_as, alice):
    report, mail = an_embargoed_report_and_a_held_reply_to_it(alice)

    response = client_as(alice).post(urls(mail)["release"][1])

    assert response["Location"] == reverse("triage:report", args=[report.tracking_id])
    assert f"Released: the email was added as a reply to {report.tracking_id}." in notes(response)


def test_a_released_email_that_cannot_be_read_goes_to_quarantine(client_as, alice):
    encrypted = 'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b"\r\n'
    garbage = (
        "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n"
        "--b\r\nContent-Type: application/octet-stream\r\n\r\n"
        "-----BEGIN PGP MESSAGE-----\r\n\r\nbm90IGEgbWVzc2FnZQ==\r\n-----END PGP MESSAGE-----\r\n--b--"
    )
    mail = flooded(headers=encrypted, body=garbage)

    response = client_as(alice).post(urls(mail)["release"][1])

    assert response["Location"] == reverse("intake:mailbox")
    assert "Released, but it could not be read or filed: it is in quarantine now." in notes(response)
    (held,) = ReceivedMail.objects.all()
    assert held.state == MailState.QUARANTINED
    assert held.handled_at is None
    assert not Report.objects.exists()


def test_a_quarantined_email_is_not_released(client_as, alice):
    mail = quarantined()

    response = client_as(alice).post(urls(mail)["release"][1])

    assert response.status_code == 303
    assert response["Location"] == detail(mail)
    assert "Only mail still held in the flood bucket can be released." in notes(response)
    assert ReceivedMail.objects.get(pk=mail.pk).handled_at is None
    assert not AuditEvent.objects.filter(event=Event.MAIL_RELEASED).exists()
    assert not Report.objects.exists()


def test_a_dismissed_email_is_not_released(client_as, alice):
    mail = flooded()
    settle_held_mail(mail=mail, actor=alice, released=False)

    response = client_as(alice).post(urls(mail)["release"][1])

    assert response["Location"] == detail(mail)
    assert "That email was already dismissed." in notes(response)
    assert not Report.objects.exists()
    assert opened_count() == 0


def test_a_release_that_fails_leaves_the_held_mail_readable_for_good(alice, monkeypatch):
    from bastion.intake.mail import receive
    from bastion.reports.services import enforce_shred_ledger
    from bastion.reports.services.inbound import open_received_mail

    mail = flooded()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the filing failed half-way")

    monkeypatch.setattr(receive, "_receive", broken)
    with pytest.raises(RuntimeError):
        receive.release_held_mail(mail=mail, actor=alice)
    enforce_shred_ledger(actor=None)  # what the worker does every ten minutes

    held = ReceivedMail.objects.get(pk=mail.pk)
    assert not held.data_key.is_destroyed
    assert CANARY.encode() in open_received_mail(mail=held, actor=alice).raw
