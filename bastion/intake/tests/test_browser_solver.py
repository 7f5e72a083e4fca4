"""In a real browser: altcha-solver.js solves a live challenge that the server then accepts.

Drives Debian's chromium through Playwright (never `playwright install`). The page under test is
the public policy page, which carries the site's strict CSP: the solver must work without inline
script, and any CSP violation is a console error that fails the test.
"""

from __future__ import annotations

import base64
import json

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The form the report page will carry, added after load: Playwright's evaluate is not subject to
# the CSP, while the solver script it adds is loaded like any other same-origin script.
INJECT = """
() => new Promise((resolve, reject) => {
  const form = document.createElement("form");
  form.method = "get";
  form.action = "/security";
  form.innerHTML = '<input type="hidden" name="altcha" data-altcha-challenge-url="/security/challenge">'
    + '<p class="altcha-status" data-altcha-status></p><button type="submit">Send</button>';
  document.querySelector("main").append(form);
  const script = document.createElement("script");
  script.src = "/static/intake/altcha-solver.js";
  script.onload = resolve;
  script.onerror = reject;
  document.head.append(script);
})
"""


def test_the_browser_solves_a_challenge_the_server_accepts(live_server, browser_page):
    from django.conf import settings

    from bastion.intake.challenge import verify_challenge

    page, problems = browser_page
    page.goto(live_server.url + "/security")

    page.evaluate(INJECT)
    # A selector wait, not wait_for_function: that one evals a string, which the strict CSP forbids.
    page.locator("[data-altcha-status][data-state=done]").wait_for(state="attached", timeout=60_000)

    payload = page.locator("input[name=altcha]").input_value()
    status = page.locator("[data-altcha-status]")
    assert status.get_attribute("data-state") == "done"
    assert verify_challenge(payload) is True
    assert verify_challenge(payload) is False
    solution = json.loads(base64.b64decode(payload))["solution"]
    assert (
        settings.INTAKE_CHALLENGE_MAX_NUMBER // 2
        <= solution["counter"]
        <= settings.INTAKE_CHALLENGE_MAX_NUMBER
    )
    print(f"\nbrowser solved {solution['counter']} hashes in {solution['time']} ms")
    assert problems == []


def test_a_submit_before_the_work_is_done_waits_for_it(live_server, browser_page):
    page, problems = browser_page
    page.goto(live_server.url + "/security")

    page.evaluate(INJECT)
    page.get_by_role("button", name="Send").click()  # at once: the solver is still counting

    page.wait_for_url("**/security?altcha=*", timeout=60_000)
    assert problems == []
