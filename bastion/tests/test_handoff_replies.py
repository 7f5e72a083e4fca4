"""An upstream's reply to our hand-off mail is theirs: kept for staff on the report, never a new report.

Filed as a new report (matched by the tracking ID in its subject, from someone who is not the
reporter), it would carry what the upstream wrote about an embargoed issue into the open inbox.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from bastion.disclosure.models import Handoff
from bastion.intake.mail.receive import Outcome
from bastion.intake.tests.test_receive_email import mail_settings, plain, receive  # noqa: F401 - fixture
from bastion.reports.access import visible_report
from bastion.reports.mail import message_id
from bastion.reports.models import AuthorKind, MailState, ReceivedMail, Report, Visibility
from bastion.reports.sealing import open_field
from bastion.reports.services.embargo import set_embargo
from bastion.reports.tests.conftest import private_vault  # noqa: F401  (the autouse fixture)
from bastion.test import rita, uma

pytestmark = pytest.mark.django_db(transaction=True)

REPLY = "Thanks, confirmed. We will ship 7.1.4 before the embargo ends."


def upstream_reply(report: Report, answering: str) -> bytes:
    return plain(
        sender=f"Uma Upstream <{uma.email}>",
        subject=f"Re: [Bastion {report.tracking_id}] Security report for your project (encrypted)",
        body=REPLY,
        message_id="<reply.1@rails.example>",
        in_reply_to=answering,
    )


def test_a_reply_to_the_handoff_is_an_internal_note_on_the_embargoed_report(
    report, handoff: Handoff, alice, bob
):
    ends = timezone.now() + timedelta(days=10)
    set_embargo(report=report, ends_at=ends, reason="Fix in 7.1.4", actor=alice)
    mail.outbox.clear()

    received = receive(upstream_reply(report, message_id("handoff", handoff.uid)))

    assert (received.outcome, received.tracking_id) == (Outcome.MESSAGE, report.tracking_id)
    assert Report.objects.count() == 1  # no new report
    note = report.messages.get()
    assert (note.visibility, note.author_kind) == (Visibility.INTERNAL, AuthorKind.SYSTEM)
    text = open_field(note, "body", key=report.data_key_plain()) or ""
    assert uma.email in text
    assert REPLY in text
    kept = ReceivedMail.objects.get()
    assert (kept.state, kept.report_id, kept.message_id) == (MailState.ACCEPTED, report.pk, note.pk)
    # Behind the embargo like everything else on the report; and nothing is sent to the reporter.
    assert visible_report(bob, report.tracking_id) is None
    assert not [m for m in mail.outbox if rita.email in m.to]


def test_a_reply_naming_a_handoff_we_never_sent_is_read_as_any_other_mail(report, handoff: Handoff):
    forged = message_id("handoff", uuid.uuid4())

    received = receive(upstream_reply(report, forged))

    assert received.outcome == Outcome.REPORT  # as before: a new report, noted as not the reporter's
    assert not report.messages.exists()
