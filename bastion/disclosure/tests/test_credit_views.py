"""The staff's credit pages: list, add, correct with a reason, withdraw, history; and who is refused."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.models import Embargo
from bastion.reports.models.credit import Appearance, Credit, CreditType
from bastion.reports.sealing import seal_field
from bastion.reports.services.credits import correct_credit, ensure_reporter_credit
from bastion.reports.services.duplicates.marking import mark_duplicate
from bastion.reports.tests.conftest import private_vault, submit  # noqa: F401  (fixtures)
from bastion.test import rita

pytestmark = pytest.mark.django_db


@pytest.fixture
def report(submit):  # noqa: F811  (the imported fixture)
    return submit().report


def credits_url(report) -> str:
    return reverse("disclosure_staff:credits", args=[report.tracking_id])


def embargo(report, setter) -> None:
    """A running embargo on ``report`` that nobody holds a grant on."""
    row = Embargo(report=report, ends_at=timezone.now() + timedelta(days=7), set_by=setter)
    row.reason = seal_field(row, "reason", "Upstream fix pending.", key=report.data_key_plain())
    row.save()


def test_the_credits_page_lists_each_credit_with_its_state_and_is_an_audited_read(client_as, alice, report):
    response = client_as(alice).get(credits_url(report))

    assert response.status_code == 200
    page = response.content.decode()
    assert rita.full_name in page
    assert "not confirmed" in page
    assert "Finder" in page
    row = AuditEvent.objects.filter(event=Event.REPORT_VIEWED, actor_id=alice.pk).last()
    assert row is not None
    assert row.data == {"scope": "credits"}


def test_staff_add_a_credit_from_the_page(client_as, alice, report):
    data = {"credit_type": "analyst", "appearance": "link", "name": "Ana Lyst", "link": "https://ana.example"}

    response = client_as(alice).post(reverse("disclosure_staff:credit_add", args=[report.tracking_id]), data)

    assert response.status_code == 303
    credit = Credit.objects.get(report=report, credit_type=CreditType.ANALYST)
    assert credit.confirmed_at is not None
    assert "Ana Lyst" in client_as(alice).get(credits_url(report)).content.decode()


def test_a_refused_credit_is_shown_beside_its_field_with_what_was_typed(client_as, alice, report):
    data = {"credit_type": "analyst", "appearance": "link", "name": "Ana Lyst", "link": "http://ana.example"}

    response = client_as(alice).post(reverse("disclosure_staff:credit_add", args=[report.tracking_id]), data)

    assert response.status_code == 400
    page = response.content.decode()
    assert "A link must be a full https:// address" in page
    assert 'value="http://ana.example"' in page
    assert not Credit.objects.filter(credit_type=CreditType.ANALYST).exists()


def test_staff_correct_a_credit_with_a_reason_kept_in_its_history(client_as, alice, report):
    credit = ensure_reporter_credit(report)
    url = reverse("disclosure_staff:credit_correct", args=[credit.uid])
    form = client_as(alice).get(url).content.decode()
    assert f'value="{rita.full_name}"' in form
    data = {
        "credit_type": "reporter",
        "appearance": "handle",
        "name": rita.full_name,
        "handle": "rita",
        "link": "",
        "reason": "Disputed: bob found it first.",
        "version": credit.version,
    }

    response = client_as(alice).post(url, data)

    assert response.status_code == 303
    credit.refresh_from_db()
    assert (credit.credit_type, credit.appearance) == (CreditType.REPORTER, Appearance.HANDLE)
    history = client_as(alice).get(reverse("disclosure_staff:credit_history", args=[credit.uid]))
    assert "Disputed: bob found it first." in history.content.decode()


def test_a_stale_correction_is_a_409_showing_the_credit_as_it_now_stands(client_as, alice, bob, report):
    credit = ensure_reporter_credit(report)
    seen = credit.version
    correct_credit(
        credit=credit, changes={"name": "Rita R."}, reason="Her wish.", actor=bob, seen_version=seen
    )
    data = {
        "credit_type": "finder",
        "appearance": "name",
        "name": "Alice's spelling",
        "handle": "rita",
        "link": "",
        "reason": "Spelling.",
        "version": seen,
    }

    response = client_as(alice).post(reverse("disclosure_staff:credit_correct", args=[credit.uid]), data)

    assert response.status_code == 409
    page = response.content.decode()
    assert "Someone else changed this credit" in page
    assert "Alice&#x27;s spelling" in page  # what she typed is kept
    assert "Now published as <strong>Rita R.</strong>" in page
    current = re.search(r'name="version" value="(\d+)"', page)
    credit.refresh_from_db()
    assert current is not None
    assert int(current.group(1)) == credit.version


def test_staff_withdraw_a_credit_with_a_reason(client_as, alice, report):
    credit = ensure_reporter_credit(report)
    url = reverse("disclosure_staff:credit_withdraw", args=[credit.uid])

    refused = client_as(alice).post(url, {"reason": "", "version": credit.version})
    assert refused.status_code == 400
    response = client_as(alice).post(url, {"reason": "Out of scope.", "version": credit.version})

    assert response.status_code == 303
    credit.refresh_from_db()
    assert credit.withdrawn_at is not None


def test_the_triage_report_page_shows_the_credits_panel_without_a_second_read(client_as, alice, report):
    ensure_reporter_credit(report)
    before = AuditEvent.objects.filter(event=Event.REPORT_VIEWED).count()

    response = client_as(alice).get(reverse("triage:report", args=[report.tracking_id]))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="credits"' in page
    assert credits_url(report) in page
    rows = AuditEvent.objects.filter(event=Event.REPORT_VIEWED)
    assert rows.count() == before + 1
    last = rows.last()
    assert last is not None
    assert last.data.get("scope") != "credits"


def test_it_rejects_anonymous_visitors(client, report):
    credit = ensure_reporter_credit(report)
    for url in (credits_url(report), reverse("disclosure_staff:credit_history", args=[credit.uid])):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


def test_it_rejects_viewers(client_as, charlie, report):
    credit = ensure_reporter_credit(report)
    viewer = client_as(charlie)

    assert viewer.get(credits_url(report)).status_code == 403
    assert (
        viewer.post(
            reverse("disclosure_staff:credit_withdraw", args=[credit.uid]), {"reason": "x"}
        ).status_code
        == 403
    )


def test_it_rejects_staff_without_a_grant_on_an_embargoed_report_as_not_found(client_as, alice, bob, report):
    credit = ensure_reporter_credit(report)
    embargo(report, setter=alice)
    staff = client_as(bob)
    data = {
        "credit_type": "analyst",
        "appearance": "name",
        "name": "B",
        "reason": "r",
        "version": credit.version,
    }

    assert staff.get(credits_url(report)).status_code == 404
    assert (
        staff.post(reverse("disclosure_staff:credit_add", args=[report.tracking_id]), data).status_code == 404
    )
    for name in ("credit_correct", "credit_withdraw", "credit_history"):
        assert staff.get(reverse(f"disclosure_staff:{name}", args=[credit.uid])).status_code == 404
    assert staff.post(reverse("disclosure_staff:credit_withdraw", args=[credit.uid]), data).status_code == 404
    credit.refresh_from_db()
    assert credit.withdrawn_at is None
    assert Credit.objects.filter(report=report).count() == 1


def test_it_rejects_an_unknown_tracking_id_as_not_found(client_as, alice):
    assert (
        client_as(alice).get(reverse("disclosure_staff:credits", args=["BST-NOSUCH0000"])).status_code == 404
    )


def test_the_credits_page_names_the_duplicates_that_share_its_credit(client_as, alice, report, submit):  # noqa: F811
    shared = submit(title="Second", reporter_name="Sam", email="sam@example.org").report
    mark_duplicate(report=shared, original=report, actor=alice, share_credit=True)

    page = client_as(alice).get(credits_url(report)).content.decode()

    assert f'href="{credits_url(shared)}">{shared.tracking_id}</a>' in page
