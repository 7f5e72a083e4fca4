"""The hand-off pages: the form (send or export), each hand-off's page, the panel on the report page,
and who may reach them: a report the user may not see is a 404 everywhere, as in triage."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.disclosure.models import Channel, Handoff, HandoffStatus, UpstreamContact
from bastion.disclosure.services.handoff import export_handoff, update_handoff
from bastion.disclosure.services.upstream import ContactDetails, save_upstream_contact
from bastion.lib.openpgp import generate_org_key
from bastion.reports.models import Report
from bastion.reports.services import portal_token
from bastion.reports.services.embargo import set_embargo
from bastion.reports.tests.conftest import CANARY, private_vault  # noqa: F401  (the autouse fixture)
from bastion.test import uma

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def uma_key():
    return generate_org_key(f"Uma <{uma.email}>", expires_in=timedelta(days=365))


@pytest.fixture
def rails(alice, uma_key) -> UpstreamContact:
    details = ContactDetails(
        project="Ruby on Rails",
        ecosystem="RubyGems",
        packages="actionpack",
        email=uma.email,
        public_key=uma_key.armored_public(),
        channel=Channel.EMAIL,
    )
    return save_upstream_contact(contact=None, data=details, actor=alice)


@pytest.fixture
def handoff(report, rails, alice) -> Handoff:
    return export_handoff(
        report=report, contact=rails, sections=["summary"], include_identity=False, deadline=None, actor=alice
    ).handoff


def embargo(report: Report, alice, capture) -> None:
    """Put ``report`` under embargo (alice, who sets it, is granted on it; bob is not)."""
    with capture(execute=True):
        set_embargo(
            report=report, ends_at=timezone.now() + timedelta(days=14), reason="Fix first", actor=alice
        )


def test_sending_from_the_form_queues_the_mail_and_shows_the_hand_off(
    report, rails, alice, client_as, django_capture_on_commit_callbacks
):
    form = {"contact": str(rails.uid), "sections": ["summary", "versions"], "action": "send"}

    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(alice).post(
            reverse("disclosure_staff:handoff_new", args=[report.tracking_id]), form
        )

    assert response.status_code == 303
    handoff = Handoff.objects.get()
    assert response["Location"] == reverse("disclosure_staff:handoff", args=[handoff.uid])
    assert [m.to for m in mail.outbox] == [[uma.email]]
    page = client_as(alice).get(response["Location"])
    assert page.status_code == 200
    text = page.content.decode()
    assert "Ruby on Rails" in text
    assert "TLP:AMBER" in text  # the packet, opened for staff (audited)
    assert AuditEvent.objects.filter(event=Event.REPORT_VIEWED, data__scope="handoff_packet").exists()


def test_exporting_from_the_form_downloads_the_zip_uncached(report, rails, alice, client_as):
    form = {"contact": str(rails.uid), "sections": ["summary"], "action": "export"}

    response = client_as(alice).post(reverse("disclosure_staff:handoff_new", args=[report.tracking_id]), form)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "no-store" in response["Cache-Control"]
    assert f'filename="{report.tracking_id}-handoff.zip"' in response["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert f"{report.tracking_id}-csaf-draft.json" in archive.namelist()
    assert Handoff.objects.get().channel == Channel.OTHER


def test_a_refused_hand_off_keeps_the_choices_and_says_why(report, alice, client_as):
    keyless = save_upstream_contact(
        contact=None, data=ContactDetails(project="Rack", email=uma.email, channel=Channel.EMAIL), actor=alice
    )
    form = {"contact": str(keyless.uid), "sections": ["summary", "impact"], "action": "send"}

    response = client_as(alice).post(reverse("disclosure_staff:handoff_new", args=[report.tracking_id]), form)

    assert response.status_code == 400
    page = response.content.decode()
    assert "Rack has no OpenPGP key in the directory" in page
    assert re.search(r'value="impact"[^>]*checked', page)  # the choices are kept
    assert not re.search(r'value="reproduction"[^>]*checked', page)
    assert not Handoff.objects.exists()


def test_naming_the_reporter_is_not_offered_without_their_consent(report, rails, alice, client_as):
    form = {"contact": str(rails.uid), "sections": ["summary"], "include_identity": "on", "action": "export"}

    response = client_as(alice).post(reverse("disclosure_staff:handoff_new", args=[report.tracking_id]), form)

    # The field is disabled: the posted "on" is ignored, and the packet goes without the name.
    assert response.status_code == 200
    assert Handoff.objects.get().identity_shared is False


def test_the_status_form_saves_and_a_stale_one_is_refused(handoff, alice, bob, client_as):
    url = reverse("disclosure_staff:handoff", args=[handoff.uid])
    fixed = {"status": "fixed", "cve_id": "CVE-2026-1234", "version": handoff.version}

    assert client_as(bob).post(url, fixed).status_code == 303
    stale = client_as(alice).post(url, {**fixed, "status": "acknowledged", "reason": "no"})

    assert stale.status_code == 409
    assert "Someone else updated this hand-off" in stale.content.decode()
    assert Handoff.objects.get().status == HandoffStatus.FIXED


def test_the_report_page_shows_the_upstream_panel(handoff, alice, client_as):
    page = client_as(alice).get(reverse("triage:report", args=[handoff.report.tracking_id]))

    text = page.content.decode()
    assert 'id="upstream"' in text
    assert reverse("disclosure_staff:handoff", args=[handoff.uid]) in text
    assert reverse("disclosure_staff:handoff_new", args=[handoff.report.tracking_id]) in text


def test_the_packet_downloads_again_audited(handoff, alice, client_as):
    response = client_as(alice).get(reverse("disclosure_staff:handoff_packet", args=[handoff.uid]))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.filter(event=Event.HANDOFF_EXPORTED, data__again=True).count() == 1
    assert CANARY.encode() not in response["Content-Disposition"].encode()


# --- Who may ------------------------------------------------------------------------------------------


def _urls(handoff: Handoff) -> list[str]:
    return [
        reverse("disclosure_staff:handoff_new", args=[handoff.report.tracking_id]),
        reverse("disclosure_staff:handoff", args=[handoff.uid]),
        reverse("disclosure_staff:handoff_packet", args=[handoff.uid]),
    ]


def test_it_rejects_a_viewer_and_an_anonymous_visitor(handoff, charlie, client_as, client):
    for url in _urls(handoff):
        assert client_as(charlie).get(url).status_code == 403
        anonymous = client.get(url)
        assert anonymous.status_code == 302
        assert "/accounts/login/" in anonymous["Location"]
    assert client_as(charlie).post(_urls(handoff)[1], {"status": "fixed", "version": 1}).status_code == 403
    assert Handoff.objects.get().status == HandoffStatus.NOTIFIED


def test_it_rejects_bob_without_a_grant_on_an_embargoed_report_as_not_found(
    handoff, alice, bob, client_as, django_capture_on_commit_callbacks
):
    embargo(handoff.report, alice, django_capture_on_commit_callbacks)

    for url in _urls(handoff):
        assert client_as(bob).get(url).status_code == 404
        assert client_as(alice).get(url).status_code == 200
    form = {"contact": str(handoff.contact.uid), "sections": ["summary"], "action": "export"}
    assert client_as(bob).post(_urls(handoff)[0], form).status_code == 404
    assert client_as(bob).post(_urls(handoff)[1], {"status": "fixed", "version": 1}).status_code == 404
    panel = client_as(bob).get(reverse("triage:report", args=[handoff.report.tracking_id]))
    assert panel.status_code == 404
    assert Handoff.objects.count() == 1


def test_an_unknown_tracking_id_is_not_found(alice, client_as):
    assert (
        client_as(alice).get(reverse("disclosure_staff:handoff_new", args=["BST-0000000000"])).status_code
        == 404
    )
    assert client_as(alice).get(reverse("disclosure_staff:handoff_new", args=["nonsense"])).status_code == 404


# --- What the reporter sees -----------------------------------------------------------------------


def visible_text(response: Any) -> str:
    """The page's text as a reader sees it: tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split()).replace(" .", ".")


def test_the_portal_shows_forwarded_to_upstream_with_what_was_shared_and_their_status(client, report, alice):
    contact = save_upstream_contact(
        contact=None,
        data=ContactDetails(
            project="Ruby on Rails", channel=Channel.CERT, channel_url="https://cert.example/report"
        ),
        actor=alice,
    )
    handoff = export_handoff(
        report=report,
        contact=contact,
        sections=["summary", "versions"],
        include_identity=False,
        deadline=None,
        actor=alice,
    ).handoff
    update_handoff(
        handoff=handoff,
        status=HandoffStatus.FIX_IN_PROGRESS,
        deadline=None,
        ghsa_id="",
        cve_id="CVE-2026-4242",
        tracking_url="",
        actor=alice,
        seen_version=handoff.version,
    )

    page = client.get(reverse("portal:report", args=[report.tracking_id, portal_token(report)]))

    text = visible_text(page)
    assert "Forwarded to upstream (Ruby on Rails), whose code has the flaw." in text  # the timeline
    assert "We shared a summary, the affected versions; not your identity." in text
    assert "Forwarded to Ruby on Rails on" in text  # the upstream card
    assert "shared: a summary, the affected versions; your identity: not shared" in text
    assert "Fix in progress" in text
    assert "CVE-2026-4242" in text
    assert "Upstream (Ruby on Rails): fix in progress." in text
