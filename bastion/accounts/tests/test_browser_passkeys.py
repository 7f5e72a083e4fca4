"""In a real browser, under the real CSP: add a passkey, then sign in with it alone.

Drives Debian's chromium through Playwright with Chrome's virtual authenticator (CDP WebAuthn
domain), so the WebAuthn JavaScript allauth ships runs for real. Any CSP violation the browser
reports fails the test: that is the proof that no page we rely on needs inline script.
"""

from __future__ import annotations

import pytest

from bastion.test import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_add_a_passkey_and_sign_in_with_it(live_server, browser_page, alice):
    from allauth.mfa.models import Authenticator

    from bastion.audit.models import AuditEvent
    from bastion.test import totp_code

    page, problems = browser_page
    base = live_server.url.replace("127.0.0.1", "localhost")  # WebAuthn wants a domain, not an IP
    authenticator = page.context.new_cdp_session(page)
    authenticator.send("WebAuthn.enable")
    authenticator.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )

    # Password, then the authenticator app.
    page.goto(base + "/accounts/login/")
    page.get_by_label("Email").fill(alice.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_label("Authenticator code").fill(totp_code(alice))
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(base + "/")

    # Adding a factor is sensitive: allauth asks for the password first, then comes back.
    page.goto(base + "/accounts/2fa/webauthn/add/")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/2fa/webauthn/add/**")
    page.get_by_label("Name").fill("Laptop passkey")
    page.get_by_label("Passwordless").check()
    page.get_by_role("button", name="Add", exact=True).click()
    page.wait_for_url(lambda url: "/webauthn/add/" not in url)

    # Signed out, the passkey alone signs her in (it is a second factor by itself).
    page.goto(base + "/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/**")
    page.get_by_role("button", name="Use a passkey instead").click()
    page.wait_for_url(base + "/")
    assert page.get_by_role("heading", name="Dashboard").is_visible()

    assert problems == []
    key = Authenticator.objects.get(user=alice, type=Authenticator.Type.WEBAUTHN)
    assert str(key) == "Laptop passkey"
    events = list(AuditEvent.objects.filter(actor_id=alice.pk).values_list("event", flat=True))
    assert events.count("auth.login_succeeded") == 2
    assert "mfa.enabled" in events
