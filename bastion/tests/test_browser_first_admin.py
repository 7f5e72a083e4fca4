"""In a real browser: the setup link creates the first admin, who enrols TOTP and signs in again.

Drives Debian's chromium through Playwright (never `playwright install`: it downloads and fails here).
"""

from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def totp_code(secret: str, *, step: int = 0) -> str:
    """The authenticator app's code, ``step`` periods from now."""
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return format_hotp_value(hotp_value(secret, int(time.time()) // 30 + step))


def test_the_setup_link_creates_an_admin_who_enrols_totp_and_signs_in(live_server, browser_page, settings):
    from bastion.accounts.models import User
    from bastion.accounts.services import issue_setup_link
    from bastion.audit.models import AuditEvent

    # Accept one period either side, as authenticator apps drift; the login below uses the next
    # period's code, because a code once used is refused.
    settings.MFA_TOTP_TOLERANCE = 1
    settings.BASE_URL = live_server.url
    link = issue_setup_link(actor=None)
    assert link is not None
    page, problems = browser_page

    page.goto(link)
    page.get_by_label("Email").fill("dave@example.org")
    page.get_by_label("Full name").fill("Dave Lead")
    page.get_by_label("Password", exact=True).fill("correct horse battery staple 42")
    page.get_by_label("Password (again)").fill("correct horse battery staple 42")
    page.get_by_role("button", name="Create admin").click()

    # Straight to TOTP enrolment: nothing else is reachable before it.
    page.wait_for_url("**/2fa/totp/activate/**")
    page.goto(live_server.url + "/")
    page.wait_for_url("**/2fa/totp/activate/**")
    secret = page.locator("#authenticator_secret").input_value()
    page.get_by_label("Authenticator code").fill(totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    page.wait_for_load_state()
    page.goto(live_server.url + "/")
    assert page.get_by_role("heading", name="Dashboard").is_visible()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/**")
    page.get_by_label("Email").fill("dave@example.org")
    page.get_by_label("Password").fill("correct horse battery staple 42")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Authenticator code").fill(totp_code(secret, step=1))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server.url + "/")
    assert page.get_by_role("heading", name="Dashboard").is_visible()

    dave = User.objects.get(email="dave@example.org")
    assert dave.is_admin
    events = set(AuditEvent.objects.filter(actor_id=dave.pk).values_list("event", flat=True))
    assert {"staff.setup_completed", "mfa.enabled", "auth.login_succeeded"} <= events
    assert problems == []
