"""The duplicates panel, the "find duplicates" page and the mark form, and what the reporter sees."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.models import Report, Reporter
from bastion.reports.services import portal_token
from bastion.reports.services.duplicates import mark_duplicate
from bastion.reports.workflow import Status

FIRST = {
    "title": "Invoice export leaks other tenants",
    "description": "GET https://billing.example.com/api/v2/invoices/export?tenant=2 returns another "
    "tenant's invoices; tenant_id is never checked.",
    "steps": "Change tenant_id.",
    "impact": "Read every customer's invoices.",
}
AGAIN = {
    "title": "Other tenants' invoices through the export endpoint",
    "description": "/api/v2/invoices/export with tenant=7 gives me tenant 7's invoices; "
    "tenant_id is trusted.",
    "steps": "Change tenant_id.",
    "impact": "Invoices leak.",
}


@pytest.fixture
def pair(submit):
    """The first report (5 March 2026, 13:03 UTC) and the same issue again, from a Tokyo reporter."""
    with time_machine.travel(datetime(2026, 3, 5, 13, 3, tzinfo=UTC), tick=False):
        first = submit(**FIRST).report
    with time_machine.travel(datetime(2026, 3, 9, 8, 0, tzinfo=UTC), tick=False):
        again = submit(**AGAIN).report
    Reporter.objects.filter(pk=again.reporter_id).update(time_zone="Asia/Tokyo")
    again.refresh_from_db()
    return first, again


def url(name: str, report: Report) -> str:
    return reverse(f"triage:{name}", args=[report.tracking_id])


def mark_form(report: Report, original: Report, **extra: object) -> dict[str, object]:
    return {
        "original": original.tracking_id,
        "reporter_message": "Someone reported this first.",
        "version": report.version,
        **extra,
    }


@pytest.mark.parametrize("name", ["duplicates", "mark_duplicate"])
def test_it_rejects_viewers(client_as, charlie, pair, name):
    first, again = pair
    client = client_as(charlie)

    response = (
        client.get(url(name, again))
        if name == "duplicates"
        else client.post(url(name, again), mark_form(again, first))
    )

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(
        event__in=[Event.DUPLICATES_SEARCHED, Event.REPORT_MARKED_DUPLICATE]
    ).exists()


@pytest.mark.parametrize("name", ["duplicates", "mark_duplicate"])
def test_it_rejects_anonymous_visitors_with_a_sign_in_redirect(client, pair, name):
    first, again = pair

    response = (
        client.get(url(name, again))
        if name == "duplicates"
        else client.post(url(name, again), mark_form(again, first))
    )

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    again.refresh_from_db()
    assert again.status == Status.NEW


def test_it_rejects_a_get_on_the_mark_action(client_as, alice, pair):
    assert client_as(alice).get(url("mark_duplicate", pair[1])).status_code == 405


def test_the_find_page_lists_candidates_with_their_reasons(client_as, alice, pair):
    first, again = pair

    response = client_as(alice).get(url("duplicates", again))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert f'id="candidate-{first.tracking_id}"' in page
    assert "Same endpoint" in page
    assert "/api/v2/invoices/export" in page
    assert f'name="original" value="{first.tracking_id}"' in page  # it came first: it can be the original
    assert AuditEvent.objects.filter(event=Event.DUPLICATES_SEARCHED, actor_id=alice.pk).count() == 1


def test_the_find_page_offers_no_mark_on_a_later_report(client_as, alice, pair):
    first, again = pair

    page = client_as(alice).get(url("duplicates", first)).content.decode()

    assert f'id="candidate-{again.tracking_id}"' in page
    assert f'value="{again.tracking_id}"' not in page
    assert "Came after this report" in page


def test_the_report_page_offers_the_form_with_the_canned_message_only_when_allowed(client_as, alice, pair):
    _, again = pair
    client = client_as(alice)

    page = client.get(url("report", again)).content.decode()
    assert 'id="mark-duplicate-form"' in page
    assert "The same issue was reported to us before yours" in page  # the default canned response

    Report.objects.filter(pk=again.pk).update(status=Status.RESOLVED)
    page = client.get(url("report", again)).content.decode()
    assert 'id="mark-duplicate-form"' not in page
    assert "cannot be marked a duplicate" in page


def test_marking_from_the_form_closes_the_report_and_goes_back_to_the_panel(client_as, alice, pair):
    first, again = pair

    response = client_as(alice).post(url("mark_duplicate", again), mark_form(again, first, share_credit="on"))

    assert response.status_code == 303
    assert response["Location"] == url("report", again) + "#duplicates"
    again.refresh_from_db()
    assert again.status == Status.DUPLICATE
    assert again.duplicate_of == first
    assert again.duplicate_credit


def test_the_original_lists_its_duplicates_and_who_shares_credit(client_as, alice, pair):
    first, again = pair
    mark_duplicate(report=again, original=first, actor=alice, share_credit=True)
    client = client_as(alice)

    original_page = client.get(url("report", first)).content.decode()
    duplicate_page = client.get(url("report", again)).content.decode()

    assert 'id="duplicates-list"' in original_page
    assert again.tracking_id in original_page
    assert "shares credit" in original_page
    assert (
        f'Duplicate of <a class="mono" href="{url("report", first)}">{first.tracking_id}</a>'
        in duplicate_page
    )


def test_an_unknown_original_is_a_clear_error(client_as, alice, pair):
    _, again = pair
    form = {"original": "BST-0000000000", "reporter_message": "", "version": again.version}

    response = client_as(alice).post(url("mark_duplicate", again), form)

    assert response.status_code == 400
    assert "There is no report BST-0000000000: check the tracking ID." in response.content.decode()


def test_a_later_original_is_refused_with_which_came_first(client_as, alice, pair):
    first, again = pair

    response = client_as(alice).post(url("mark_duplicate", first), mark_form(first, again))

    assert response.status_code == 400
    assert (
        f"mark {again.tracking_id} as a duplicate of {first.tracking_id} instead" in response.content.decode()
    )
    first.refresh_from_db()
    assert first.status == Status.NEW


def test_a_stale_form_is_refused_and_changes_nothing(client_as, alice, pair):
    first, again = pair
    stale = mark_form(again, first, version=again.version - 1 or 99)

    response = client_as(alice).post(url("mark_duplicate", again), stale)

    assert response.status_code == 409
    assert "Someone else changed this report" in response.content.decode()
    again.refresh_from_db()
    assert again.status == Status.NEW


def test_the_reporter_sees_the_original_and_when_it_arrived_in_their_time_zone(client, alice, pair):
    first, again = pair
    mark_duplicate(report=again, original=first, actor=alice)

    page = client.get(
        reverse("portal:report", args=[again.tracking_id, portal_token(again)])
    ).content.decode()

    # 13:03 UTC is 22:03 in Tokyo.
    header = f'A duplicate of <span class="mono">{first.tracking_id}</span>, which we received on'
    assert f"{header} 5 Mar 2026, 22:03" in page
    assert (
        f"Marked as a duplicate of {first.tracking_id}, which we received on 05 Mar 2026, 22:03 (Asia/Tokyo)."
        in page
    )
    assert "BEGIN PGP SIGNED MESSAGE" in page  # the original's receipt, in the message
