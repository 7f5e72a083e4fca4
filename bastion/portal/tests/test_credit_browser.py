"""rita's credit in a real browser: the line previews as she types, she saves it, then confirms it."""

from __future__ import annotations

import pytest

from bastion.portal.tests.conftest import link
from bastion.reports.models.credit import Appearance
from bastion.reports.services.credits import ensure_reporter_credit


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_she_previews_saves_and_confirms_how_she_is_credited(live_server, browser_page, report):
    page, problems = browser_page
    page.goto(live_server.url + link(report))
    preview = page.locator("#credit-preview-name")
    assert preview.inner_text() == "Rita Researcher"

    page.check("#credit-form input[name=appearance][value=link]")
    page.fill("#id_handle", "rita")
    page.fill("#id_name", "")
    page.fill("#id_link", "https://rita.example")

    # The preview follows her typing; a draft cannot be confirmed.
    assert preview.inner_text() == "rita"
    assert preview.locator("a").get_attribute("href") == "https://rita.example"
    assert page.locator("#credit-preview-note").inner_text() == "(not saved yet)"
    assert page.locator("#credit-confirm").is_disabled()

    page.click("#credit-form button[type=submit]")
    page.wait_for_url(f"**{link(report)}#credit")
    assert page.locator("#credit-preview-name a").inner_text() == "rita"
    assert page.locator("#credit-state").inner_text() == "Not confirmed yet"

    page.click("#credit-confirm")
    page.wait_for_url(f"**{link(report)}#credit")
    assert page.locator("#credit-state").inner_text() == "Confirmed"
    credit = ensure_reporter_credit(report)
    assert (credit.appearance, credit.confirmed_at is not None) == (Appearance.LINK, True)
    assert problems == []
