"""Every account page renders in the product's layout, accessibly, and within the strict CSP.

The CSP forbids inline script, inline event handlers and inline styles. allauth's pages only add
static script files and JSON data blocks (``<script type="application/json">``), which browsers
never execute; this test holds every page we rely on to that.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client
from django.urls import reverse

from bastion.accounts import services
from bastion.accounts.models import Role
from bastion.test import PASSWORD, make_staff

pytestmark = pytest.mark.django_db

DATA_BLOCK_TYPES = {"application/json"}


class PageAudit(HTMLParser):
    """Collects what the CSP and accessibility checks need from one page."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.labels: set[str] = set()
        self.controls: list[tuple[str, dict[str, str | None]]] = []
        self.headings: list[str] = []
        self._script_is_inline = False
        self._script_content = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"inline event handler {name} on <{tag}>")
            if name == "style":
                self.problems.append(f"inline style on <{tag}>")
            if name in {"href", "src", "action"} and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL on <{tag}>")
        if tag == "script":
            executable = attributes.get("type") not in DATA_BLOCK_TYPES
            self._script_is_inline = executable and not attributes.get("src")
            self._script_content = ""
        if tag == "style":
            self.problems.append("inline <style> element")
        if tag == "label" and attributes.get("for"):
            self.labels.add(attributes["for"] or "")
        if tag in {"input", "select", "textarea"} and attributes.get("type") not in {
            "hidden",
            "submit",
            "button",
        }:
            self.controls.append((tag, attributes))
        if tag in {"h1", "h2"}:
            self.headings.append(tag)

    def handle_data(self, data: str) -> None:
        self._script_content += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script_is_inline and self._script_content.strip():
            self.problems.append("inline executable <script>")
        if tag == "script":
            self._script_is_inline = False

    def unlabelled_controls(self) -> list[str]:
        return [
            f"<{tag} name={attrs.get('name')}>"
            for tag, attrs in self.controls
            if attrs.get("id") not in self.labels and not attrs.get("aria-label")
        ]


def audit(response) -> PageAudit:
    assert response.status_code in {200, 403, 404, 410}, (response.status_code, response.get("Location"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    page = PageAudit()
    body = response.content.decode()
    page.feed(body)
    assert "site-header" in body, "not rendered in the product's layout"
    assert page.problems == []
    assert page.unlabelled_controls() == []
    assert "h1" in page.headings
    return page


def signed_in_with_password(user) -> Client:
    client = Client()
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


@pytest.mark.parametrize(
    "url_name",
    ["account_login", "account_signup", "account_reset_password", "account_reset_password_done"],
)
def test_entrance_pages(client, url_name):
    audit(client.get(reverse(url_name)))


def test_the_mfa_stage_of_sign_in(alice):
    client = signed_in_with_password(alice)

    page = client.get(reverse("mfa_authenticate"))

    audit(page)
    assert "Use a passkey or security key" in page.content.decode()
    assert re.search(r'<script src="/static/mfa/js/webauthn\.js">', page.content.decode())


def test_totp_enrolment_with_its_qr_code():
    client = signed_in_with_password(make_staff("bob", mfa=False))

    page = client.get(reverse("mfa_activate_totp"))

    audit(page)
    assert 'class="qr"' in page.content.decode()


@pytest.mark.parametrize(
    "url_name",
    [
        "accounts:profile",
        "mfa_index",
        "mfa_add_webauthn",
        "mfa_list_webauthn",
        "mfa_deactivate_totp",
        "mfa_generate_recovery_codes",
        "account_change_password",
        "account_reauthenticate",
        "mfa_reauthenticate",
        "account_logout",
        "account_email",
    ],
)
def test_signed_in_pages(client_as, alice, url_name):
    audit(client_as(alice, reauthenticated=True).get(reverse(url_name)))


def test_the_recovery_codes_page(client_as, alice, django_capture_on_commit_callbacks):
    client = client_as(alice, reauthenticated=True)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("mfa_generate_recovery_codes"))

    audit(client.get(reverse("mfa_view_recovery_codes")))


def test_the_team_page(client_as, dave, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.invite_staff(actor=dave, email="nora@bastion.example", role=Role.VIEWER)

    audit(client_as(dave).get(reverse("accounts:team")))


def test_setup_invitation_and_rejection_pages(client, dave, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invite_staff(actor=dave, email="nora@bastion.example", role=Role.VIEWER)

    audit(client.get(invitation.link().removeprefix("http://127.0.0.1:8000")))
    audit(client.get(reverse("accounts:invitation", args=[invitation.pk, "0" * 64])))
    audit(client.get(reverse("accounts:setup", args=["nope"])))


def test_the_setup_page(client):
    url = services.issue_setup_link()
    assert url is not None

    audit(client.get("/" + url.split("/", 3)[3]))


def test_the_lockout_page(client, alice):
    for _ in range(5):
        response = client.post(reverse("account_login"), {"login": alice.email, "password": "wrong"})

    audit(response)


def test_the_security_key_pages_with_a_key(client_as, alice):
    key = Authenticator.objects.create(
        user=alice,
        type=Authenticator.Type.WEBAUTHN,
        data={"name": "Blue YubiKey", "credential": {"clientExtensionResults": {"credProps": {"rk": True}}}},
    )

    client = client_as(alice, reauthenticated=True)
    page = client.get(reverse("mfa_list_webauthn"))

    audit(page)
    body = page.content.decode()
    assert "Blue YubiKey" in body
    assert "Passkey" in body
    audit(client.get(reverse("mfa_edit_webauthn", kwargs={"pk": key.pk})))
    audit(client.get(reverse("mfa_remove_webauthn", kwargs={"pk": key.pk})))
