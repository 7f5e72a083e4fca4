"""Handing a report upstream: the redacted packet, encrypted to the upstream's key, or exported.

The mail is read as the upstream would: decrypted with their secret key (one made by our engine,
one by the gpg binary), its signature checked against the org key, its parts taken apart.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace
from datetime import UTC, timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.disclosure.exports.testing import csaf_validate
from bastion.disclosure.exports.validate import validate_export
from bastion.disclosure.handoff import HandoffRefused
from bastion.disclosure.handoff_tasks import email_handoff
from bastion.disclosure.models import Channel, Handoff, HandoffStatus, UpstreamContact
from bastion.disclosure.services.handoff import build_packet, export_handoff, send_handoff
from bastion.disclosure.services.upstream import ContactDetails, save_upstream_contact
from bastion.lib.openpgp import SecretKey, decrypt_and_verify, generate_org_key
from bastion.reports.errors import ReportRejected
from bastion.reports.models import EmbargoParty, PartyKind, Report, TimelineKind
from bastion.reports.services import reporter_actor
from bastion.reports.services.embargo import set_embargo
from bastion.reports.services.handoff_events import set_upstream_consent
from bastion.reports.tests.conftest import CANARY, new_gpg, private_vault, submit  # noqa: F401  (fixtures)
from bastion.test import rita, uma
from bastion.vault.orgkey import get_org_key

pytestmark = pytest.mark.django_db

# rita signs her write-up, as researchers do: the packet must not carry it without her consent.
SIGNED = f"The export leaks invoices.\n\nFound by {rita.full_name} (@rita, {rita.email}). {CANARY}"
ALL = ["summary", "reproduction", "versions", "impact"]


@pytest.fixture(scope="session")
def uma_key() -> SecretKey:
    """Uma's key pair (made with the org key's engine)."""
    return generate_org_key(f"Uma <{uma.email}>", expires_in=timedelta(days=365))


def rails_details(key: Any = None, **overrides: Any) -> ContactDetails:
    """The Rails security team, with Uma's key when given."""
    details = ContactDetails(
        project="Ruby on Rails",
        ecosystem="RubyGems",
        packages="actionpack",
        contact_name=uma.full_name,
        email=uma.email,
        public_key=key.armored_public() if key is not None else "",
        channel=Channel.EMAIL,
    )
    return replace(details, **overrides)


@pytest.fixture
def report(submit) -> Report:  # noqa: F811  (the imported fixture)
    """rita's report, signed with her name in the text; acknowledged, the outbox emptied."""
    created = submit(description=SIGNED, version="7.1.3", impact="Read any tenant's invoices.").report
    mail.outbox.clear()
    return created


@pytest.fixture
def rails(alice, uma_key) -> UpstreamContact:
    return save_upstream_contact(contact=None, data=rails_details(uma_key), actor=alice)


def send(report: Report, contact: UpstreamContact, actor: Any, capture: Any, **overrides: Any) -> Handoff:
    """Hand ``report`` to ``contact`` by mail, the mail task run as the worker would."""
    arguments: dict[str, Any] = {
        "report": report,
        "contact": contact,
        "sections": ALL,
        "include_identity": False,
        "deadline": None,
        "actor": actor,
        **overrides,
    }
    with capture(execute=True):
        return send_handoff(**arguments)


def armored_payload(message: Any) -> bytes:
    """The encrypted part of a PGP/MIME mail (RFC 3156: the version part, then the message)."""
    outer = message_from_bytes(message.message().as_bytes(), policy=policy.default)
    assert outer.get_content_type() == "multipart/encrypted"
    assert outer.get_param("protocol") == "application/pgp-encrypted"
    _version, payload = outer.iter_parts()
    armored = payload.get_payload(decode=True)
    assert isinstance(armored, bytes)
    assert armored.startswith(b"-----BEGIN PGP MESSAGE-----")
    return armored


def read_as_upstream(message: Any, key: SecretKey) -> tuple[str, dict[str, Any], bool]:
    """The mail's text, its CSAF part and whether the org key's signature is good, as Uma reads it."""
    decrypted = decrypt_and_verify(armored_payload(message), key=key, verify_with=[get_org_key().public])
    return (*parts_of(decrypted.plaintext), decrypted.good_signature)


def parts_of(inner_bytes: bytes) -> tuple[str, dict[str, Any]]:
    inner = message_from_bytes(inner_bytes, policy=policy.default)
    assert inner.get_content_type() == "multipart/mixed"
    text = next(p for p in inner.walk() if p.get_content_type() == "text/plain").get_content()
    csaf = next(p for p in inner.walk() if p.get_content_type() == "application/json")
    assert str(csaf.get_filename()).endswith("-csaf-draft.json")
    return text, json.loads(csaf.get_content())


def test_the_mail_decrypts_with_the_upstreams_key_and_carries_the_redacted_packet_and_a_csaf_draft(
    report, rails, alice, uma_key, django_capture_on_commit_callbacks
):
    handoff = send(report, rails, alice, django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [uma.email]
    raw = message.message().as_bytes()
    assert CANARY.encode() not in raw  # nothing readable outside the encryption
    assert b"Rita" not in raw
    assert rita.full_name not in message.subject
    text, csaf, signed = read_as_upstream(message, uma_key)
    assert signed  # signed by the org key
    assert report.tracking_id in text
    assert "TLP:AMBER" in text
    assert "Ruby on Rails" in text
    assert "7.1.3" in text  # the affected version we saw
    assert CANARY in text  # the steps went
    assert "Rita" not in text
    assert rita.email not in text
    assert "@rita" not in text
    assert "[reporter]" in text
    assert "not shared: the reporter did not agree to be named" in text
    assert csaf["document"]["tracking"]["status"] == "draft"
    assert csaf["document"]["distribution"]["tlp"]["label"] == "AMBER"
    assert csaf["document"]["tracking"]["id"] == report.tracking_id
    assert "acknowledgments" not in csaf["document"]
    assert "Rita" not in json.dumps(csaf)
    assert validate_export("csaf", csaf) == []
    handoff.refresh_from_db()
    assert handoff.sent_at is not None
    assert handoff.status == HandoffStatus.NOTIFIED


def test_a_key_made_by_gpg_decrypts_it_too(report, alice, tmp_path, django_capture_on_commit_callbacks):
    gpg = new_gpg(tmp_path / "uma-gnupg")
    try:
        unprotected = ("--pinentry-mode", "loopback", "--passphrase", "")
        gpg(*unprotected, "--quick-gen-key", f"Uma <{uma.email}>", "future-default", "default", "1y")
        public = gpg("--armor", "--export", uma.email).stdout.decode()
        contact = save_upstream_contact(contact=None, data=rails_details(public_key=public), actor=alice)

        send(report, contact, alice, django_capture_on_commit_callbacks)

        armored = armored_payload(mail.outbox[0])
        gpg("--import", input=get_org_key().armored_public().encode())
        result = gpg(*unprotected, "--decrypt", input=armored)
    finally:
        gpg.kill_agent()
    status = result.stderr.decode(errors="replace")
    assert "[GNUPG:] DECRYPTION_OKAY" in status
    assert "[GNUPG:] GOODSIG" in status
    text, csaf = parts_of(result.stdout)
    assert report.tracking_id in text
    assert csaf["document"]["distribution"]["tlp"]["label"] == "AMBER"


def test_the_reporters_name_goes_only_with_their_consent(
    report, rails, alice, django_capture_on_commit_callbacks
):
    with pytest.raises(ReportRejected) as refused:
        send(report, rails, alice, django_capture_on_commit_callbacks, include_identity=True)
    assert refused.value.field == "include_identity"
    assert not Handoff.objects.exists()
    assert not AuditEvent.objects.filter(event=Event.REPORT_VIEWED).exists()  # refused before opening

    set_upstream_consent(report=report, consent=True, actor=reporter_actor(report))
    packet = build_packet(report=report, contact=rails, sections=ALL, include_identity=True, actor=alice)

    assert rita.full_name in packet.markdown
    assert "@rita" in packet.markdown
    assert "named with their consent" in packet.markdown
    assert rita.email not in packet.markdown  # their address never goes
    assert packet.csaf["document"]["acknowledgments"][0]["names"] == [rita.full_name]
    assert validate_export("csaf", packet.csaf) == []


def test_a_reporter_who_said_no_is_not_named(report, rails, alice):
    set_upstream_consent(report=report, consent=False, actor=reporter_actor(report))

    with pytest.raises(ReportRejected):
        build_packet(report=report, contact=rails, sections=ALL, include_identity=True, actor=alice)


def test_only_the_chosen_sections_go(report, rails, alice):
    packet = build_packet(
        report=report, contact=rails, sections=["summary"], include_identity=False, actor=alice
    )

    assert "The export leaks invoices." in packet.markdown
    assert "## Steps to reproduce" not in packet.markdown
    assert "GET /export" not in packet.markdown
    assert "7.1.3" not in packet.markdown
    assert "GET /export" not in json.dumps(packet.csaf)
    assert packet.sections == ("summary",)


def test_an_expired_upstream_key_is_refused_with_its_date(report, alice, django_capture_on_commit_callbacks):
    short = generate_org_key(f"Uma <{uma.email}>", expires_in=timedelta(days=2))
    contact = save_upstream_contact(contact=None, data=rails_details(short), actor=alice)
    assert short.expires_at is not None
    expired_on = f"{short.expires_at.astimezone(UTC):%Y-%m-%d}"

    with time_machine.travel(timezone.now() + timedelta(days=3)), pytest.raises(HandoffRefused) as refused:
        send(report, contact, alice, django_capture_on_commit_callbacks)

    message = str(refused.value)
    assert f"The key for Ruby on Rails expired on {expired_on}" in message
    assert "ask them for a current one and update the directory" in message
    assert not Handoff.objects.exists()
    assert mail.outbox == []


def test_an_upstream_without_a_key_gets_no_mail_and_is_told_to_export(
    report, alice, django_capture_on_commit_callbacks
):
    contact = save_upstream_contact(contact=None, data=rails_details(), actor=alice)

    with pytest.raises(HandoffRefused) as refused:
        send(report, contact, alice, django_capture_on_commit_callbacks)

    assert refused.value.reason == "no_key"
    assert "export the packet" in str(refused.value)
    assert mail.outbox == []


def test_the_hand_off_is_recorded_sealed_on_the_timeline_and_audited(
    report, rails, alice, django_capture_on_commit_callbacks
):
    handoff = send(report, rails, alice, django_capture_on_commit_callbacks, sections=["impact", "summary"])

    assert handoff.shared == ["summary", "impact"]
    assert handoff.identity_shared is False
    assert handoff.channel == Channel.EMAIL
    assert handoff.packet is not None
    assert CANARY.encode() not in bytes(handoff.packet)  # sealed under the report's key
    entry = report.timeline.get(kind=TimelineKind.FORWARDED_UPSTREAM)
    assert entry.public
    assert entry.data == {
        "project": "Ruby on Rails",
        "shared": ["summary", "impact"],
        "identity_shared": False,
    }
    event = AuditEvent.objects.get(event=Event.HANDOFF_SENT)
    assert event.data["handoff"] == str(handoff.uid)
    assert event.data["sections"] == ["summary", "impact"]
    assert CANARY not in json.dumps(event.data)
    assert AuditEvent.objects.filter(event=Event.REPORT_VIEWED, target_id=str(report.pk)).exists()


def test_the_mail_goes_once_however_often_the_task_runs(
    report, rails, alice, django_capture_on_commit_callbacks
):
    handoff = send(report, rails, alice, django_capture_on_commit_callbacks)
    email_handoff.call(handoff.pk)

    assert len(mail.outbox) == 1


def test_under_embargo_the_packet_states_its_end_and_the_upstream_becomes_a_party(
    report, rails, alice, uma_key, django_capture_on_commit_callbacks
):
    ends = (timezone.now() + timedelta(days=30)).replace(hour=14, minute=0, second=0, microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        set_embargo(report=report, ends_at=ends, reason="Fix first", actor=alice)
    mail.outbox.clear()

    send(report, rails, alice, django_capture_on_commit_callbacks)

    party = EmbargoParty.objects.get(embargo__report=report, kind=PartyKind.UPSTREAM)
    assert party.label == "Ruby on Rails"
    handoff_mail = next(
        m for m in mail.outbox if m.to == [uma.email] and "multipart/encrypted" in str(m.message())
    )
    text, _csaf, _signed = read_as_upstream(handoff_mail, uma_key)
    assert f"until {ends.astimezone(UTC):%Y-%m-%d %H:%M} UTC" in text


def test_bob_without_a_grant_cannot_hand_over_an_embargoed_report(
    report, rails, alice, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        set_embargo(
            report=report, ends_at=timezone.now() + timedelta(days=9), reason="Fix first", actor=alice
        )

    with pytest.raises(PermissionDenied):
        send(report, rails, bob, django_capture_on_commit_callbacks)
    assert not Handoff.objects.exists()


def test_export_records_the_hand_off_and_gives_a_zip_of_the_summary_and_the_csaf_draft(
    report, alice, uma_key, tmp_path
):
    github = save_upstream_contact(
        contact=None,
        data=rails_details(
            uma_key,
            channel=Channel.GITHUB,
            channel_url="https://github.com/rails/rails/security/advisories/new",
        ),
        actor=alice,
    )

    export = export_handoff(
        report=report, contact=github, sections=ALL, include_identity=False, deadline=None, actor=alice
    )

    assert export.filename == f"{report.tracking_id}-handoff.zip"
    assert CANARY not in export.filename
    with zipfile.ZipFile(io.BytesIO(export.content)) as archive:
        names = sorted(archive.namelist())
        markdown = archive.read(f"{report.tracking_id}-handoff.md").decode()
        csaf = json.loads(archive.read(f"{report.tracking_id}-csaf-draft.json"))
    assert names == [f"{report.tracking_id}-csaf-draft.json", f"{report.tracking_id}-handoff.md"]
    assert "[reporter]" in markdown
    assert "Rita" not in markdown
    assert csaf["document"]["distribution"]["tlp"]["label"] == "AMBER"
    assert validate_export("csaf", csaf) == []
    (tmp_path / "draft.json").write_text(json.dumps(csaf))
    checked = csaf_validate(tmp_path / "draft.json")  # the csaf validator's mandatory tests
    assert checked.returncode == 0, checked.stdout + checked.stderr
    handoff = export.handoff
    assert handoff.channel == Channel.GITHUB
    assert handoff.sent_at is not None
    assert AuditEvent.objects.filter(event=Event.HANDOFF_EXPORTED).count() == 1
    assert mail.outbox == []
    assert report.timeline.filter(kind=TimelineKind.FORWARDED_UPSTREAM).count() == 1


def test_a_deadline_in_the_past_is_refused(report, rails, alice, django_capture_on_commit_callbacks):
    with pytest.raises(HandoffRefused) as refused:
        send(
            report,
            rails,
            alice,
            django_capture_on_commit_callbacks,
            deadline=timezone.now() - timedelta(hours=1),
        )

    assert refused.value.field == "deadline"


def test_no_section_is_no_hand_off(report, rails, alice, django_capture_on_commit_callbacks):
    with pytest.raises(ReportRejected) as refused:
        send(report, rails, alice, django_capture_on_commit_callbacks, sections=[])

    assert refused.value.field == "sections"
