"""Drafting advisories: sealed content, identifiers, revisions and diffs, stale edits, a second reviewer.

The fixtures (a report, a full draft) and the helpers (the full content, one ready to publish) are in
this folder's ``conftest.py``, shared with the other ``test_advisory_*`` modules.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.disclosure.content import AdvisoryContent, AffectedPackage
from bastion.disclosure.models import Advisory, AdvisoryRevision, AdvisoryState
from bastion.disclosure.services.advisories import (
    AdvisoryRejected,
    StaleAdvisoryEdit,
    approve_advisory,
    create_advisory,
    draft_from_reports,
    edit_advisory,
    open_advisory,
    revision_diff,
    schedule_publication,
    send_back,
    submit_for_review,
)
from bastion.disclosure.services.advisories.review import review_note
from bastion.disclosure.tests.conftest import embargo_end, full_content
from bastion.reports.models import Report, TimelineEntry
from bastion.reports.services.embargo import set_embargo
from bastion.reports.tests.conftest import CANARY, private_vault  # noqa: F401  (the autouse fixture)
from bastion.reports.tests.test_submit_report import every_stored_value, leaks
from bastion.test import run_at_once
from bastion.vault.errors import SealError
from bastion.vault.models import DataKey
from bastion.vault.orgkey import get_org_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cve_org")]


# --- Drafting and sealing ---------------------------------------------------------------------------


def test_a_draft_is_sealed_under_a_key_of_its_own_and_nothing_of_it_is_in_clear(report, alice):
    advisory = create_advisory(reports=[report], content=full_content(), actor=alice)

    assert advisory.state == AdvisoryState.DRAFT
    assert advisory.data_key == DataKey.objects.get(subject=f"advisory:{advisory.uid}")
    assert list(advisory.reports.all()) == [report]
    assert advisory.revisions.get().number == 1
    stored = every_stored_value()
    assert leaks(CANARY, stored) == []
    assert leaks("/export", stored) == []
    assert leaks("Invoice export leaks", stored) == []
    assert open_advisory(advisory=advisory, actor=alice) == full_content()


def test_sealed_content_copied_to_another_advisory_does_not_open(report, alice):
    first = create_advisory(reports=[report], content=full_content(), actor=alice)
    second = create_advisory(reports=[report], content=full_content(title="Other"), actor=alice)
    Advisory.objects.filter(pk=second.pk).update(content=first.content)
    second.refresh_from_db()

    with pytest.raises(SealError):
        open_advisory(advisory=second, actor=alice)


def test_identifiers_count_up_within_the_year(report, alice, settings):
    settings.ADVISORY_PREFIX = "ACME-SA"
    year = datetime.now(UTC).year
    made = [create_advisory(reports=[report], content=full_content(), actor=alice) for _ in range(3)]

    assert [a.identifier for a in made] == [f"ACME-SA-{year}-{n:04d}" for n in (1, 2, 3)]


@pytest.mark.django_db(transaction=True)
def test_advisories_created_at_once_get_different_identifiers(submit, alice):
    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
        pytest.skip("needs a file or server database (see reports/tests/test_concurrency.py)")
    get_org_key()
    report = submit().report

    made = run_at_once(
        lambda: create_advisory(reports=[report], content=full_content(), actor=alice), times=4
    )

    assert len({a.identifier for a in made}) == 4
    assert Advisory.objects.count() == 4


def test_the_first_draft_takes_the_title_and_the_scores_of_its_reports(submit, alice):
    low = submit(title="Low one").report
    high = submit(title="High one").report
    Report.objects.filter(pk=low.pk).update(
        cvss_v3="CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", cvss_score=2
    )
    Report.objects.filter(pk=high.pk).update(
        cvss_v3="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", cvss_score="9.8", cwe_id=79
    )
    low.refresh_from_db()
    high.refresh_from_db()
    before = AuditEvent.objects.filter(event=Event.REPORT_VIEWED).count()

    content = draft_from_reports([high, low], alice)

    assert content.title == "Low one"  # the first report received
    assert content.cvss_v3 == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    assert content.cwe_id == 79
    titles_read = AuditEvent.objects.filter(event=Event.REPORT_VIEWED).order_by("id")[before:]
    assert [(e.target_id, e.data) for e in titles_read] == [
        (str(low.pk), {"scope": "title"}),
        (str(high.pk), {"scope": "title"}),
    ]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"title": "  "}, "title", "needs a title"),
        ({"cvss_v3": "AV:N/AC:L"}, "cvss_v3", "starts with"),
        ({"cvss_v4": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}, "cvss_v4", "3.1 field"),
        ({"cwe_id": 99999}, "cwe_id", "not in the bundled CWE list"),
        ({"cve_id": "CVE-26-1"}, "cve_id", "CVE-2026-12345"),
        ({"references": ("javascript:alert(1)",)}, "references", "one https:// URL per line"),
        ({"affected": (AffectedPackage(product="", vendor="Acme"),)}, "affected", "no product name"),
        (
            {"affected": (AffectedPackage(product="x", ecosystem="RubyGems"),)},
            "affected",
            "both the ecosystem",
        ),
        (
            {"affected": (AffectedPackage(product="x", ecosystem="Gems", package="x"),)},
            "affected",
            "not an OSV",
        ),
    ],
)
def test_bad_fields_are_refused_saying_which_and_why(draft, alice, changes, field, words):
    with pytest.raises(AdvisoryRejected, match=words) as refused:
        edit_advisory(
            advisory=draft, content=full_content(**changes), actor=alice, seen_version=draft.version
        )

    assert refused.value.field == field
    assert draft.revisions.count() == 1


def test_it_rejects_a_draft_by_someone_who_may_not_see_the_report(report, alice, bob, charlie):
    set_embargo(report=report, ends_at=embargo_end(), reason="Coordinated with Rails", actor=alice)

    for outsider in (bob, charlie):
        with pytest.raises(PermissionDenied):
            create_advisory(reports=[report], content=full_content(), actor=outsider)
    assert Advisory.objects.count() == 0


def test_it_rejects_reading_an_advisory_about_an_embargoed_report_without_a_grant(draft, report, alice, bob):
    set_embargo(report=report, ends_at=embargo_end(), reason="Coordinated with Rails", actor=alice)

    with pytest.raises(PermissionDenied):
        open_advisory(advisory=draft, actor=bob)
    assert open_advisory(advisory=draft, actor=alice).title.startswith("Invoice export")


# --- Revisions and stale edits ---------------------------------------------------------------------


def test_each_edit_is_a_revision_and_the_diff_shows_what_changed(draft, alice, bob):
    edit_advisory(
        advisory=draft,
        content=full_content(summary="Signed-in users read every tenant's invoices.", cve_id=""),
        actor=alice,
        seen_version=draft.version,
    )
    edit_advisory(
        advisory=draft,
        content=full_content(
            summary="Signed-in users read every tenant's invoices.", cve_id="CVE-2026-99999"
        ),
        actor=bob,
        seen_version=draft.version,
    )

    assert list(draft.revisions.values_list("number", "author__email")) == [
        (1, alice.email),
        (2, alice.email),
        (3, bob.email),
    ]
    diffs = {d.field: d.lines for d in revision_diff(draft, 1, 3, bob)}
    assert set(diffs) == {"summary", "cve_id"}
    assert "-Any signed-in user can read other tenants' invoices." in diffs["summary"]
    assert "+Signed-in users read every tenant's invoices." in diffs["summary"]
    assert "+CVE-2026-99999" in diffs["cve_id"]
    viewed = AuditEvent.objects.filter(event=Event.ADVISORY_VIEWED).last()
    assert viewed is not None
    assert viewed.data == {"revisions": [1, 3]}
    assert open_advisory(advisory=draft, actor=alice).cve_id == "CVE-2026-99999"


def test_saving_the_same_content_makes_no_revision(draft, alice):
    version = draft.version
    edit_advisory(advisory=draft, content=full_content(), actor=alice, seen_version=version)

    assert draft.revisions.count() == 1
    assert draft.version == version


def test_a_stale_edit_is_refused_naming_who_saved_and_loses_nothing(draft, alice, bob):
    seen = draft.version
    edit_advisory(advisory=draft, content=full_content(summary="Bob's words."), actor=bob, seen_version=seen)
    alices = Advisory.objects.get(pk=draft.pk)
    alices.version = seen  # alice's form still carries the version she loaded

    with pytest.raises(StaleAdvisoryEdit) as stale:
        edit_advisory(
            advisory=alices, content=full_content(summary="Alice's words."), actor=alice, seen_version=seen
        )

    message = stale.value.messages[0]
    assert "Bob Triager saved a newer version" in message
    assert "your text is kept below" in message
    assert open_advisory(advisory=draft, actor=alice).summary == "Bob's words."
    assert draft.revisions.count() == 2


def test_a_withdrawn_advisory_cannot_be_edited(draft, dave, alice):
    from bastion.disclosure.services.advisories import withdraw_advisory

    withdraw_advisory(advisory=draft, actor=dave, reason="Not a vulnerability after all.")

    with pytest.raises(AdvisoryRejected, match="withdrawn"):
        edit_advisory(
            advisory=draft, content=full_content(title="New"), actor=alice, seen_version=draft.version
        )


# --- Review by a second person ---------------------------------------------------------------------


def test_a_second_person_approves_the_latest_revision(draft, alice, bob):
    submit_for_review(advisory=draft, actor=alice)
    approve_advisory(advisory=draft, actor=bob)

    draft.refresh_from_db()
    assert draft.state == AdvisoryState.APPROVED
    assert (draft.approved_by, draft.approved_revision) == (bob, 1)
    assert [
        e.event
        for e in AuditEvent.objects.filter(
            target_type="disclosure.advisory", target_id=str(draft.pk)
        ).order_by("id")
    ] == [
        Event.ADVISORY_CREATED,
        Event.ADVISORY_SUBMITTED,
        Event.ADVISORY_APPROVED,
    ]


def test_the_author_cannot_approve_their_own_revision(draft, alice):
    submit_for_review(advisory=draft, actor=alice)

    with pytest.raises(AdvisoryRejected, match=r"You wrote revision 1 .* needs a second person"):
        approve_advisory(advisory=draft, actor=alice)
    assert Advisory.objects.get(pk=draft.pk).state == AdvisoryState.IN_REVIEW


def test_whoever_submitted_cannot_approve_either(draft, alice, bob, dave):
    submit_for_review(advisory=draft, actor=bob)

    with pytest.raises(AdvisoryRejected, match="You submitted"):
        approve_advisory(advisory=draft, actor=bob)
    approve_advisory(advisory=draft, actor=dave)
    assert Advisory.objects.get(pk=draft.pk).approved_by == dave


def test_a_reviewer_who_edits_during_review_needs_a_third_person(draft, alice, bob, dave):
    submit_for_review(advisory=draft, actor=alice)
    edit_advisory(
        advisory=draft, content=full_content(summary="Tightened."), actor=bob, seen_version=draft.version
    )

    with pytest.raises(AdvisoryRejected, match="You wrote revision 2"):
        approve_advisory(advisory=draft, actor=bob)
    approve_advisory(advisory=draft, actor=dave)
    assert Advisory.objects.get(pk=draft.pk).approved_revision == 2


def test_whoever_wrote_an_earlier_unpublished_revision_cannot_approve_either(draft, alice, bob, dave):
    edit_advisory(
        advisory=draft, content=full_content(summary="A typo fixed."), actor=bob, seen_version=draft.version
    )
    submit_for_review(advisory=draft, actor=bob)

    # Revision 2 is bob's, but most of the words are still alice's revision 1.
    with pytest.raises(AdvisoryRejected, match="You wrote revision 1"):
        approve_advisory(advisory=draft, actor=alice)
    approve_advisory(advisory=draft, actor=dave)


def test_an_incomplete_draft_cannot_be_submitted(report, alice):
    advisory = create_advisory(reports=[report], content=AdvisoryContent(title="Only a title"), actor=alice)

    with pytest.raises(AdvisoryRejected, match="a summary, a description and at least one affected product"):
        submit_for_review(advisory=advisory, actor=alice)


def test_an_edit_after_approval_voids_it(draft, alice, bob):
    submit_for_review(advisory=draft, actor=alice)
    approve_advisory(advisory=draft, actor=bob)

    edit_advisory(
        advisory=draft, content=full_content(summary="Changed."), actor=alice, seen_version=draft.version
    )

    draft.refresh_from_db()
    assert draft.state == AdvisoryState.DRAFT
    assert draft.approved_by is None
    assert draft.approved_revision is None
    edited = AuditEvent.objects.filter(event=Event.ADVISORY_EDITED).last()
    assert edited is not None
    assert edited.data["approval_voided"] is True


def test_sending_back_keeps_the_reason_sealed_for_the_author(draft, alice, bob):
    submit_for_review(advisory=draft, actor=alice)

    send_back(advisory=draft, actor=bob, reason=f"Drop the exploit details {CANARY}.")

    draft.refresh_from_db()
    assert draft.state == AdvisoryState.DRAFT
    assert review_note(advisory=draft, actor=alice) == f"Bob Triager: Drop the exploit details {CANARY}."
    assert leaks(CANARY, every_stored_value()) == []


def test_sending_back_needs_a_reason(draft, alice, bob):
    submit_for_review(advisory=draft, actor=alice)

    with pytest.raises(AdvisoryRejected, match="Say what needs to change"):
        send_back(advisory=draft, actor=bob, reason=" ")
    assert Advisory.objects.get(pk=draft.pk).state == AdvisoryState.IN_REVIEW


def test_no_advisory_text_reaches_the_audit_trail_or_the_timeline(draft, report, alice, bob):
    submit_for_review(advisory=draft, actor=alice)
    approve_advisory(advisory=draft, actor=bob)
    schedule_publication(advisory=draft, actor=alice)

    for row in AuditEvent.objects.all():
        assert CANARY not in str(row.data)
        assert "Invoice export" not in str(row.data)
    for entry in TimelineEntry.objects.all():
        assert CANARY not in str(entry.data)
    assert AdvisoryRevision.objects.filter(advisory=draft).count() == 1
    assert uuid.UUID(str(draft.uid))
