"""The staff's advisory pages: who may reach them, and what each form does with good and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.disclosure.models import Advisory, AdvisoryState
from bastion.disclosure.services.advisories import (
    approve_advisory,
    edit_advisory,
    open_advisory,
    submit_for_review,
)
from bastion.disclosure.tests.conftest import advisory_url, embargo_end, full_content, make_ready
from bastion.reports.services.embargo import set_embargo
from bastion.reports.tests.conftest import CANARY, private_vault  # noqa: F401  (the autouse fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cve_org")]


def edit_data(advisory: Advisory, **changes: Any) -> dict[str, Any]:
    """The edit form as a browser posts it: ``full_content()`` in one affected row, one blank row."""
    data = {
        "title": full_content().title,
        "summary": full_content().summary,
        "description": full_content().description,
        "cvss_v3": full_content().cvss_v3,
        "cvss_v4": "",
        "cwe_id": "CWE-639",
        "cve_id": "CVE-2026-12345",
        "references": "https://example.org/fix\n",
        "workaround": "Turn the export off.",
        "version": advisory.version,
        "affected-TOTAL_FORMS": "2",
        "affected-INITIAL_FORMS": "0",
        "affected-MIN_NUM_FORMS": "0",
        "affected-MAX_NUM_FORMS": "50",
        "affected-0-product": "Action Pack",
        "affected-0-vendor": "Ruby on Rails",
        "affected-0-ecosystem": "RubyGems",
        "affected-0-package": "actionpack",
        "affected-0-introduced": "7.0.0",
        "affected-0-fixed": "7.1.3.1",
        "affected-0-affected_versions": ">= 7.0.0, < 7.1.3.1",
    }
    data.update(changes)
    return data


PAGES = ["advisories", "advisory_new", "advisory", "advisory_edit", "advisory_revisions"]
ACTIONS = [
    "advisory_submit",
    "advisory_approve",
    "advisory_send_back",
    "advisory_schedule",
    "advisory_publish",
]


def _target(name: str, advisory: Advisory) -> str:
    return advisory_url(name) if name in ("advisories", "advisory_new") else advisory_url(name, advisory)


# --- Who may reach the pages -----------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES + ACTIONS + ["advisory_republish", "advisory_withdraw"])
def test_it_rejects_anonymous_visitors(client, draft, name):
    method = (
        client.post if name in ACTIONS or name in ("advisory_republish", "advisory_withdraw") else client.get
    )

    response = method(_target(name, draft))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("name", PAGES + ACTIONS)
def test_it_rejects_viewers(client_as, charlie, draft, name):
    client = client_as(charlie)
    method = client.post if name in ACTIONS else client.get

    response = method(_target(name, draft), {"version": draft.version})

    assert response.status_code == 403
    assert Advisory.objects.get(pk=draft.pk).state == AdvisoryState.DRAFT


@pytest.mark.parametrize(
    "name", ["advisory", "advisory_edit", "advisory_revisions", *ACTIONS, "advisory_withdraw"]
)
def test_it_rejects_bob_on_an_embargoed_report_he_is_not_granted_on(
    client_as, alice, bob, report, draft, name
):
    set_embargo(report=report, ends_at=embargo_end(), reason="Coordinated with Rails", actor=alice)
    client = client_as(bob)
    method = client.post if name in ACTIONS or name == "advisory_withdraw" else client.get

    response = method(advisory_url(name, draft), {"version": draft.version, "reason": "Looks wrong to me."})

    assert response.status_code == 404
    assert CANARY not in response.content.decode()
    assert Advisory.objects.get(pk=draft.pk).version == draft.version


def test_it_rejects_listing_an_advisory_about_a_report_bob_may_not_see(client_as, alice, bob, report, draft):
    assert draft.identifier in client_as(bob).get(advisory_url("advisories")).content.decode()
    set_embargo(report=report, ends_at=embargo_end(), reason="Coordinated with Rails", actor=alice)

    assert draft.identifier not in client_as(bob).get(advisory_url("advisories")).content.decode()
    assert draft.identifier in client_as(alice).get(advisory_url("advisories")).content.decode()


def test_it_rejects_a_withdrawal_by_a_triager(client_as, alice, draft):
    response = client_as(alice).post(
        advisory_url("advisory_withdraw", draft), {"version": draft.version, "reason": "Nope."}
    )

    assert response.status_code == 403
    assert Advisory.objects.get(pk=draft.pk).state == AdvisoryState.DRAFT


# --- Drafting --------------------------------------------------------------------------------------


def test_a_draft_is_made_from_reports_picked_by_tracking_id(client_as, alice, report):
    client = client_as(alice)
    form = client.get(advisory_url("advisory_new") + f"?reports={report.tracking_id}")
    assert report.tracking_id in form.content.decode()

    response = client.post(advisory_url("advisory_new"), {"reports": report.tracking_id.lower()})

    advisory = Advisory.objects.get()
    assert response.status_code == 303
    assert response["Location"] == advisory_url("advisory_edit", advisory)
    assert list(advisory.reports.all()) == [report]
    assert open_advisory(advisory=advisory, actor=alice).title == full_content().title


def test_an_unknown_tracking_id_is_refused_and_kept(client_as, alice, report):
    response = client_as(alice).post(
        advisory_url("advisory_new"), {"reports": f"{report.tracking_id}, BST-NOPE000000"}
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "No report BST-NOPE000000 that you may see" in page
    assert report.tracking_id in page
    assert Advisory.objects.count() == 0


def test_the_report_page_lists_its_advisories_and_offers_a_draft(client_as, alice, report, draft):
    page = client_as(alice).get(reverse("triage:report", args=[report.tracking_id])).content.decode()

    assert advisory_url("advisory", draft) in page
    assert "Draft an advisory" in page
    assert f"{advisory_url('advisory_new')}?reports={report.tracking_id}" in page


def test_saving_the_edit_form_makes_a_revision(client_as, alice, draft):
    data = edit_data(
        draft, summary="Rewritten summary.", **{"affected-1-product": "Billing", "affected-1-fixed": "4.3"}
    )

    response = client_as(alice).post(advisory_url("advisory_edit", draft), data)

    assert response.status_code == 303
    draft.refresh_from_db()
    content = open_advisory(advisory=draft, actor=alice)
    assert content.summary == "Rewritten summary."
    assert [item.product for item in content.affected] == ["Action Pack", "Billing"]
    assert draft.revisions.count() == 2


def test_a_stale_edit_is_refused_with_the_text_kept(client_as, alice, bob, draft):
    seen = draft.version
    edit_advisory(
        advisory=draft, content=full_content(summary="Bob got there first."), actor=bob, seen_version=seen
    )

    response = client_as(alice).post(
        advisory_url("advisory_edit", draft), edit_data(draft, version=seen, summary="Alice's take.")
    )

    assert response.status_code == 409
    page = response.content.decode()
    assert "Bob Triager saved a newer version" in page
    assert "Alice&#x27;s take." in page
    assert open_advisory(advisory=draft, actor=alice).summary == "Bob got there first."
    # The page now carries the current version: saving again is her deliberate choice, and works.
    draft.refresh_from_db()
    assert f'name="version" value="{draft.version}"' in page
    again = client_as(alice).post(
        advisory_url("advisory_edit", draft), edit_data(draft, version=draft.version, summary="Alice's take.")
    )
    assert again.status_code == 303
    draft.refresh_from_db()
    assert open_advisory(advisory=draft, actor=alice).summary == "Alice's take."


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("cve_id", "CVE-2026-1", "CVE-2026-12345"),
        ("cvss_v3", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "Bastion keeps CVSS 3.1"),
        ("references", "not a url", "one https:// URL per line"),
        ("cwe_id", "CWE-99999", "not in the bundled CWE list"),
    ],
)
def test_bad_input_is_refused_beside_its_field_and_the_text_kept(
    client_as, alice, draft, field, value, words
):
    response = client_as(alice).post(advisory_url("advisory_edit", draft), edit_data(draft, **{field: value}))

    assert response.status_code == 400
    page = response.content.decode()
    assert words in page
    assert "Turn the export off." in page
    assert draft.revisions.count() == 1


def test_the_revisions_page_shows_the_diff(client_as, alice, draft):
    edit_advisory(
        advisory=draft, content=full_content(workaround="Upgrade."), actor=alice, seen_version=draft.version
    )

    response = client_as(alice).get(advisory_url("advisory_revisions", draft) + "?a=1&b=2")

    page = response.content.decode()
    assert response.status_code == 200
    assert '<span class="diff-del">-Turn the export off.</span>' in page
    assert '<span class="diff-add">+Upgrade.</span>' in page


def test_the_page_is_an_audited_read_with_the_checklist(client_as, alice, draft):
    response = client_as(alice).get(advisory_url("advisory", draft))

    page = response.content.decode()
    assert response.status_code == 200
    assert full_content().title in page
    assert 'data-check="approval"' in page
    assert response["Cache-Control"].startswith("max-age=0")
    assert AuditEvent.objects.filter(event=Event.ADVISORY_VIEWED, target_id=str(draft.pk)).exists()


# --- Review, schedule, publish, withdraw -----------------------------------------------------------


def test_the_author_is_told_a_second_person_must_approve(client_as, alice, bob, draft):
    submit_for_review(advisory=draft, actor=alice)
    draft.refresh_from_db()

    refused = client_as(alice).post(advisory_url("advisory_approve", draft), {"version": draft.version})
    assert refused.status_code == 400
    assert "approval needs a second person" in refused.content.decode()

    approved = client_as(bob).post(advisory_url("advisory_approve", draft), {"version": draft.version})
    assert approved.status_code == 303
    assert Advisory.objects.get(pk=draft.pk).state == AdvisoryState.APPROVED


def test_sending_back_without_a_reason_is_refused(client_as, alice, bob, draft):
    submit_for_review(advisory=draft, actor=alice)
    draft.refresh_from_db()

    response = client_as(bob).post(
        advisory_url("advisory_send_back", draft), {"version": draft.version, "reason": ""}
    )

    assert response.status_code == 400
    assert Advisory.objects.get(pk=draft.pk).state == AdvisoryState.IN_REVIEW


def test_the_schedule_is_read_in_the_viewers_zone_and_shown_with_utc(client_as, alice, draft):
    alice.time_zone = "Europe/Paris"
    alice.save()
    local = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=3)).replace(
        hour=9, minute=30, second=0, microsecond=0
    )

    response = client_as(alice).post(
        advisory_url("advisory_schedule", draft),
        {"version": draft.version, "publish_at": local.strftime("%Y-%m-%dT%H:%M")},
    )

    assert response.status_code == 303
    planned = Advisory.objects.get(pk=draft.pk).publish_at
    assert planned == local
    page = client_as(alice).get(advisory_url("advisory", draft)).content.decode()
    assert f"{local:%Y-%m-%d} 09:30 (Europe/Paris)" in page
    assert f"{planned.astimezone(UTC):%Y-%m-%d %H:%M} UTC" in page


def test_a_triager_scheduling_before_the_embargo_is_told_why(client_as, alice, report, draft):
    ends = embargo_end()
    set_embargo(report=report, ends_at=ends, reason="Coordinated with Rails", actor=alice)
    early = (ends - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    response = client_as(alice).post(
        advisory_url("advisory_schedule", draft), {"version": draft.version, "publish_at": early}
    )

    assert response.status_code == 400
    assert "an advisory is never published before it" in response.content.decode()
    assert Advisory.objects.get(pk=draft.pk).publish_at is None


def test_publish_now_is_refused_while_the_checklist_fails(client_as, alice, draft):
    response = client_as(alice).post(advisory_url("advisory_publish", draft), {"version": draft.version})

    assert response.status_code == 409
    assert "check(s) failed" in response.content.decode()
    assert Advisory.objects.get(pk=draft.pk).published_at is None


def test_publish_now_publishes_a_ready_advisory(client_as, alice, bob, report, draft):
    ends = embargo_end()
    make_ready(draft, report, author=alice, reviewer=bob, ends_at=ends)

    with time_machine.travel(ends + timedelta(minutes=1), tick=False):
        response = client_as(alice).post(advisory_url("advisory_publish", draft), {"version": draft.version})

    assert response.status_code == 303
    assert Advisory.objects.get(pk=draft.pk).state == AdvisoryState.PUBLISHED


def test_the_lead_withdraws_with_a_public_reason(client_as, alice, bob, dave, draft):
    submit_for_review(advisory=draft, actor=alice)
    approve_advisory(advisory=draft, actor=bob)

    response = client_as(dave).post(
        advisory_url("advisory_withdraw", draft),
        {"version": draft.version, "reason": "A duplicate of BASTION-SA-2026-0007."},
    )

    assert response.status_code == 303
    draft.refresh_from_db()
    # Never published: the reason is sealed with the draft, not put in the public column.
    assert (draft.state, draft.withdrawn_reason) == (AdvisoryState.WITHDRAWN, "")
    assert draft.abandoned_reason is not None


def test_each_state_offers_its_own_next_step(client_as, alice, bob, dave, report, draft):
    def page(user) -> str:
        draft.refresh_from_db()
        return client_as(user).get(advisory_url("advisory", draft)).content.decode()

    assert advisory_url("advisory_submit", draft) in page(alice)
    assert advisory_url("advisory_approve", draft) not in page(alice)
    submit_for_review(advisory=draft, actor=alice)
    assert advisory_url("advisory_approve", draft) in page(bob)
    assert advisory_url("advisory_send_back", draft) in page(bob)
    ends = embargo_end()
    draft.refresh_from_db()
    make_ready(draft, report, author=alice, reviewer=bob, ends_at=ends, submitted=True)
    before = page(alice)
    assert advisory_url("advisory_publish", draft) not in before  # the embargo still runs
    assert "published automatically at the planned time" in before
    assert advisory_url("advisory_withdraw", draft) not in before
    with time_machine.travel(ends + timedelta(minutes=1), tick=False):
        assert advisory_url("advisory_publish", draft) in page(alice)
        client_as(alice).post(
            advisory_url("advisory_publish", draft), {"version": Advisory.objects.get(pk=draft.pk).version}
        )
        published = page(alice)
        assert advisory_url("advisory_republish", draft) in published
        assert advisory_url("advisory_schedule", draft) not in published
        assert "Initial publication" in published
        assert advisory_url("advisory_withdraw", draft) in page(dave)
