"""The API docs page (Swagger UI, served from our own static files) works under the strict CSP."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_docs_page_renders_every_operation_without_csp_violations(live_server, browser_page):
    page, problems = browser_page
    page.goto(live_server.url + "/api/v1/docs")
    page.locator(".opblock-get").first.wait_for()
    # The reporter API (submit, status) and the staff API (list, search, read, patch, post a message).
    assert page.locator(".opblock-post").count() == 3
    assert page.locator(".opblock-get").count() == 3
    assert page.locator(".opblock-patch").count() == 1
    assert problems == []
