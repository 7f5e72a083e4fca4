"""Issue 7's "done when", through the services and the public URLs (the browser walk is
``test_disclosure_browser.py``).

A report goes from triaged to a fixed upstream issue to a published advisory at the embargo instant;
the reporter is credited as she chose; the Hall of Thanks and the Atom feed show it; the CSAF, OSV
and CVE files pass the official validators; security.txt validates and verifies with ``gpg --verify``.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
import time_machine
from django.core import mail
from sectxt import Parser  # type: ignore[import-untyped]  # sectxt ships no type information

from bastion.disclosure.content import AdvisoryContent, AffectedPackage
from bastion.disclosure.exports.testing import csaf_validate
from bastion.disclosure.exports.validate import validate_export
from bastion.disclosure.models import Advisory, HandoffStatus, UpstreamContact
from bastion.disclosure.publish_tasks import publish_due_advisories
from bastion.disclosure.services.advisories import (
    approve_advisory,
    create_advisory,
    schedule_publication,
    submit_for_review,
)
from bastion.disclosure.services.handoff import send_handoff, update_handoff
from bastion.disclosure.services.upstream import ContactDetails, save_upstream_contact
from bastion.lib.openpgp import generate_org_key
from bastion.reports.models import Status
from bastion.reports.services import change_status, reporter_actor
from bastion.reports.services.credits import choose_credit, confirm_credit, ensure_reporter_credit
from bastion.reports.services.embargo import acknowledge_embargo, grant_access, reporter_party, set_embargo
from bastion.reports.services.handoff_events import set_upstream_consent
from bastion.reports.tests.conftest import gpg, private_vault, submit  # noqa: F401  (fixtures)
from bastion.vault.orgkey import get_org_public_key

pytestmark = [
    pytest.mark.skipif(shutil.which("gpg") is None, reason="needs the gpg binary (make system-deps)"),
    pytest.mark.django_db,
]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# The embargo ends at 14:00 UTC, which is 15:00 in Paris: the instant, not anyone's wall clock.
EMBARGO_END = datetime(2026, 3, 16, 14, 0, tzinfo=UTC)
CONTENT = AdvisoryContent(
    title="Path traversal in attachment downloads",
    summary="A crafted file name lets a signed-in user read files outside the upload directory.",
    description="Action Pack joined the file name to the upload root without normalising it first.",
    affected=(
        AffectedPackage(
            product="Action Pack",
            vendor="Ruby on Rails",
            ecosystem="RubyGems",
            package="actionpack",
            introduced="7.0.0",
            fixed="7.1.3.1",
            affected_versions=">= 7.0.0, < 7.1.3.1",
        ),
    ),
    cvss_v3="CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
    cwe_id=22,
    cve_id="CVE-2026-4242",
    references=("https://rubyonrails.org/2026/3/16/security-release",),
    workaround="Reject file names containing `..` in a before_action.",
)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def publisher(settings) -> None:
    settings.BASE_URL = "https://bastion.example"
    settings.PUBLISHER_NAMESPACE = "https://bastion.example"
    settings.CVE_ORG_ID = str(uuid.uuid4())


def test_a_report_goes_from_triage_to_an_advisory_published_at_the_embargo_instant(
    submit,  # noqa: F811  (fixture)
    gpg,  # noqa: F811  (fixture)
    alice,
    bob,
    clock,
    publisher,
    client,
    tmp_path: Path,
    django_capture_on_commit_callbacks,
):
    report = submit().report
    rita = reporter_actor(report)

    # Triage, and an embargo until the upstream's release.
    change_status(report=report, to=Status.TRIAGED, actor=alice, notify_reporter=False)
    embargo = set_embargo(report=report, ends_at=EMBARGO_END, reason="Rails ships the fix first", actor=alice)
    party = reporter_party(embargo)
    assert party is not None
    acknowledge_embargo(party=party, actor=rita)

    # rita lets us name her upstream and chooses how she is credited: by handle, with a link.
    set_upstream_consent(report=report, consent=True, actor=rita)
    credit = choose_credit(
        credit=ensure_reporter_credit(report),
        appearance="link",
        handle="rita_r",
        link="https://rita.example/",
        actor=rita,
    )
    confirm_credit(credit=credit, actor=rita)

    # The flaw is Rails': hand it to their security team, encrypted to their key.
    rails_key = generate_org_key("Rails security <security@rubyonrails.example>")
    rails = save_upstream_contact(
        contact=UpstreamContact(),
        data=ContactDetails(
            project="Ruby on Rails",
            ecosystem="RubyGems",
            packages="actionpack",
            email="security@rubyonrails.example",
            public_key=rails_key.armored_public(),
        ),
        actor=alice,
    )
    with django_capture_on_commit_callbacks(execute=True):
        handoff = send_handoff(
            report=report,
            contact=rails,
            sections=["summary", "reproduction", "versions"],
            include_identity=True,
            deadline=EMBARGO_END - timedelta(days=2),
            actor=alice,
        )
    # Two mails to Rails: the packet, encrypted to their key, and the embargo they are now party to.
    to_rails = [m.message() for m in mail.outbox if "security@rubyonrails.example" in m.to]
    assert sorted(m.get_content_type() for m in to_rails) == ["multipart/encrypted", "multipart/signed"]
    for status in (HandoffStatus.ACKNOWLEDGED, HandoffStatus.FIX_IN_PROGRESS, HandoffStatus.FIXED):
        handoff = update_handoff(
            handoff=handoff,
            status=status,
            deadline=handoff.deadline,
            ghsa_id="",
            cve_id="CVE-2026-4242",
            tracking_url="",
            actor=alice,
            seen_version=handoff.version,
        )

    # The advisory: drafted by alice, approved by bob (granted on the embargoed report for that),
    # scheduled for the embargo's end.
    grant_access(report=report, user=bob, actor=alice)
    advisory = create_advisory(reports=[report], content=CONTENT, actor=alice)
    advisory = submit_for_review(advisory=advisory, actor=alice)
    advisory = approve_advisory(advisory=advisory, actor=bob)
    with django_capture_on_commit_callbacks(execute=True):
        advisory = schedule_publication(advisory=advisory, actor=alice)
    assert advisory.publish_at == EMBARGO_END

    # Not a second early; then at the instant itself.
    clock.move_to(EMBARGO_END - timedelta(seconds=1))
    assert publish_due_advisories.call() == 0
    assert client.get("/security/advisories/feed.atom").content.count(advisory.identifier.encode()) == 0
    clock.move_to(EMBARGO_END)
    with django_capture_on_commit_callbacks(execute=True):
        assert publish_due_advisories.call() == 1
    advisory = Advisory.objects.get(pk=advisory.pk)
    assert advisory.published_at == EMBARGO_END

    # Credited as she chose, on the page, in the feed's source, and in the Hall of Thanks.
    page = client.get(f"/security/advisories/{advisory.identifier}").content.decode()
    assert 'href="https://rita.example/"' in page
    assert "rita_r" in page
    assert "Rita Researcher" not in page  # her name was not what she chose
    thanks = client.get("/security/thanks").content.decode()
    assert "rita_r" in thanks
    assert "2026" in thanks
    feed_xml = client.get("/security/advisories/feed.atom").content
    feed = ElementTree.fromstring(feed_xml)  # noqa: S314  (our own feed, parsed in a test)
    atom = "{http://www.w3.org/2005/Atom}"
    titles = [entry.findtext(f"{atom}title") or "" for entry in feed.iter(f"{atom}entry")]
    assert any(advisory.identifier in title or CONTENT.title in title for title in titles)

    # Each export, fetched from its public URL, passes the official schema; CSAF also the csaf tool.
    for kind in ("csaf", "osv", "cve"):
        response = client.get(f"/security/advisories/{advisory.identifier}/{kind}.json", follow=True)
        assert response.status_code == 200, kind
        document = json.loads(response.content)
        assert validate_export(kind, document) == [], kind
        if kind == "csaf":
            path = tmp_path / "advisory.json"
            path.write_bytes(response.content)
            checked = csaf_validate(path)
            assert checked.returncode == 0, checked.stdout + checked.stderr

    # security.txt: valid by sectxt, and its signature verifies with stock gpg.
    served = client.get("/.well-known/security.txt").content
    parsed = Parser(served, urls="https://bastion.example/.well-known/security.txt")
    assert parsed.is_valid(), parsed.errors
    gpg("--import", input=get_org_public_key().armored_public().encode())
    signed = tmp_path / "security.txt"
    signed.write_bytes(served)
    assert gpg("--verify", str(signed), check=False).returncode == 0
