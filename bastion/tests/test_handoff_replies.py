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

from bastion.audit.services import Actor
from bastion.disclosure.models import Handoff
from bastion.disclosure.services.handoff import send_handoff
from bastion.disclosure.services.upstream import save_upstream_contact
from bastion.disclosure.tests.test_handoff_send import rails_details, uma_key  # noqa: F401 - fixture
from bastion.intake.mail.receive import Outcome
from bastion.intake.tests.test_receive_email import mail_settings, plain, receive  # noqa: F401 - fixture
from bastion.reports.access import visible_report
from bastion.reports.mail import message_id
from bastion.reports.models import AuthorKind, MailState, ReceivedMail, Report, Visibility
from bastion.reports.sealing import open_field
from bastion.reports.services.embargo import set_embargo
from bastion.reports.services.inbound import SHREDDED_THREAD
from bastion.reports.services.shredding import ShredReason, shred_report
from bastion.reports.tests.conftest import private_vault  # noqa: F401  (the autouse fixture)
from bastion.test import rita, uma

pytestmark = pytest.mark.django_db(transaction=True)

REPLY = "Thanks, confirmed. We will ship 7.1.4 before the embargo ends."


@pytest.fixture
def mailed(report: Report, alice, uma_key) -> Handoff:  # noqa: F811 - the imported fixture
    """rita's report handed to the Rails team by encrypted mail (the mail task runs on commit)."""
    contact = save_upstream_contact(contact=None, data=rails_details(uma_key), actor=alice)
    handoff = send_handoff(
        report=report,
        contact=contact,
        sections=["summary"],
        include_identity=False,
        deadline=None,
        actor=alice,
    )
    handoff.refresh_from_db()
    assert handoff.sent_at is not None
    mail.outbox.clear()
    return handoff


def upstream_reply(report: Report, answering: str) -> bytes:
    return plain(
        sender=f"Uma Upstream <{uma.email}>",
        subject=f"Re: [Bastion {report.tracking_id}] Security report for your project (encrypted)",
        body=REPLY,
        message_id="<reply.1@rails.example>",
        in_reply_to=answering,
    )


def test_a_reply_to_the_handoff_mail_is_an_internal_note_on_the_embargoed_report(
    report, mailed: Handoff, alice, bob
):
    set_embargo(report=report, ends_at=timezone.now() + timedelta(days=10), reason="In 7.1.4", actor=alice)
    mail.outbox.clear()

    received = receive(upstream_reply(report, message_id("handoff", mailed.uid)))

    assert (received.outcome, received.tracking_id) == (Outcome.MESSAGE, report.tracking_id)
    assert Report.objects.count() == 1  # no new report
    note = report.messages.get()
    assert (note.visibility, note.author_kind) == (Visibility.INTERNAL, AuthorKind.SYSTEM)
    text = open_field(note, "body", key=report.data_key_plain()) or ""
    assert uma.email in text
    assert REPLY in text
    kept = ReceivedMail.objects.get()
    assert (kept.state, kept.report_id, kept.message_id) == (MailState.ACCEPTED, report.pk, note.pk)
    # Behind the embargo like everything else on the report; and nothing is sent to anyone.
    assert visible_report(bob, report.tracking_id) is None
    assert mail.outbox == []


def test_a_reply_about_a_report_shredded_since_is_held_not_filed_and_not_answered(report, mailed: Handoff):
    shred_report(report=report, actor=Actor.system(), why=ShredReason.OPERATOR)

    received = receive(upstream_reply(report, message_id("handoff", mailed.uid)))

    assert received.outcome == Outcome.QUARANTINED
    held = ReceivedMail.objects.get()
    assert (held.state, held.problem, held.report_id) == (MailState.QUARANTINED, SHREDDED_THREAD, None)
    assert Report.objects.count() == 1
    assert not [m for m in mail.outbox if uma.email in m.to]


@pytest.mark.parametrize("answering", ["a hand-off never mailed", "a hand-off that does not exist"])
def test_a_reply_naming_a_handoff_we_never_mailed_is_read_as_any_other_mail(report, handoff, answering):
    uid = handoff.uid if answering == "a hand-off never mailed" else uuid.uuid4()  # handoff: a GitHub export

    received = receive(upstream_reply(report, message_id("handoff", uid)))

    assert received.outcome == Outcome.REPORT  # a new report, noted as not from the reporter
    assert not report.messages.exists()
    assert not [m for m in mail.outbox if rita.email in m.to and "7.1.4" in m.body]
