"""alice works a report in a real browser: inbox, report, reply, note, status; no console errors.

A console error includes any CSP violation, so an empty ``problems`` list also proves the pages
need no inline script or style.
"""

from __future__ import annotations

import pytest
from django.test import Client

from bastion.reports.models import Message, Status, Visibility
from bastion.triage.models import CannedResponse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, user) -> None:
    """Put a session made by ``force_login`` into the browser (alice has MFA, so it is let through)."""
    client = Client()
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def test_alice_replies_notes_and_triages_a_report(browser_page, live_server, alice, report):
    page, problems = browser_page
    # Live-server tests flush the tables, data migrations' rows included: say what the team wrote.
    CannedResponse.objects.update_or_create(
        status=Status.TRIAGED,
        is_default=True,
        defaults={"title": "Confirmed", "body": "Confirmed {tracking_id}."},
    )
    sign_in(page, live_server, alice)

    page.goto(f"{live_server.url}/triage/")
    page.get_by_role("link", name=report.tracking_id).click()
    page.wait_for_url(f"**/triage/{report.tracking_id}/")
    assert "Invoice export leaks other tenants" in page.locator("h1").inner_text()

    page.get_by_role("textbox", name="Reply to the reporter").fill("Thanks, **looking** into it.")
    page.get_by_role("button", name="Send reply").click()
    page.get_by_text("Reply sent.").wait_for()

    page.locator("#note_body").fill("Reproduced on staging.")
    page.get_by_role("button", name="Add note").click()
    page.get_by_text("Internal note added.").wait_for()

    # The canned response for the chosen status fills the message; alice edits it before sending.
    message = page.locator("#status_reporter_message")
    page.get_by_role("combobox", name="New status").select_option("triaged")
    assert message.input_value() == f"Confirmed {report.tracking_id}."
    message.fill(f"Confirmed {report.tracking_id}; a fix is planned.")
    page.get_by_role("button", name="Change status").click()
    page.get_by_text("Status changed from New to Triaged.").wait_for()

    assert page.locator(".msg-public strong", has_text="looking").count() == 1
    assert page.locator(".msg-internal", has_text="Reproduced on staging.").count() == 1
    assert page.locator(".msg-public", has_text="a fix is planned").count() == 1
    report.refresh_from_db()
    assert report.status == Status.TRIAGED
    visibilities = sorted(Message.objects.filter(report=report).values_list("visibility", flat=True))
    assert visibilities == [Visibility.INTERNAL, Visibility.PUBLIC, Visibility.PUBLIC]
    assert problems == []
