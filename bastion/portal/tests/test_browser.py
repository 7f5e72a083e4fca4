"""rita's portal in a real browser: she replies, the security team answers, she reloads and reads it."""

from __future__ import annotations

import pytest

from bastion.portal.tests.conftest import link
from bastion.reports.models import Visibility
from bastion.reports.services import post_message


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_reporter_replies_and_sees_the_security_teams_answer(live_server, browser_page, report, alice):
    page, problems = browser_page

    page.goto(live_server.url + link(report))
    assert page.locator("#tracking-id").inner_text() == report.tracking_id
    assert page.locator("#status").inner_text() == "New"

    page.fill("#id_body", "Here is a **second** proof: tenant=3 works too.")
    page.click("#reply-form button[type=submit]")
    page.wait_for_url(f"**{link(report)}#conversation")
    assert "Your message was sent to the security team." in page.inner_text(".messages")
    assert page.locator(".portal-message-mine strong", has_text="second").count() == 1

    post_message(
        report=report,
        body="Confirmed, fix in progress. Thank you!",
        visibility=Visibility.PUBLIC,
        actor=alice,
    )
    page.reload()

    staff = page.locator(".portal-message", has_text="Confirmed, fix in progress.")
    assert staff.count() == 1
    assert "Security team" in staff.inner_text()
    assert problems == []
