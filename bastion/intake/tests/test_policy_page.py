"""The public policy page: the version in force, rendered safely, with the org key and contact."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bastion.intake import policy_defaults, services
from bastion.intake.models import Policy
from bastion.vault.models import OrgKey

pytestmark = pytest.mark.django_db


def test_a_fresh_install_has_the_default_policy_as_version_1():
    policy = Policy.objects.get(version=1)

    assert policy.title == policy_defaults.TITLE
    assert policy.first_response_hours == 24
    assert "Safe harbor" in policy.body
    assert "authorized" in policy.safe_harbor
    assert policy.published_by is None


def test_the_page_shows_the_policy_in_force_and_how_to_reach_us(client, settings):
    settings.DEFAULT_FROM_EMAIL = "security@bastion.example"

    page = client.get("/security")

    assert page.status_code == 200
    body = page.content.decode()
    assert "<h1>Vulnerability disclosure policy</h1>" in body
    assert "Version 1" in body
    assert "<h2>How to report</h2>" in body  # the policy's sections sit beside the page's own
    assert 'href="mailto:security@bastion.example"' in body
    assert "within <strong>24 hours</strong>" in body
    assert "<strong>Critical</strong>" in body  # the fix targets, rendered from Markdown


def test_the_page_shows_the_org_key_fingerprint_and_download_link(client):
    body = client.get(reverse("intake:policy")).content.decode()

    key = OrgKey.objects.get(active=True)
    grouped = " ".join(key.fingerprint[i : i + 4] for i in range(0, 40, 4))
    assert grouped in body
    assert 'href="/.well-known/security-key.asc"' in body


def test_the_page_links_to_the_report_form(client):
    assert reverse("intake:report") == "/security/report"
    assert 'href="/security/report"' in client.get("/security").content.decode()


def test_the_newest_version_is_shown(client, dave):
    services.publish_policy(
        actor=dave, **{**services.policy_fields(services.current_policy()), "title": "Our rules"}
    )

    body = client.get("/security").content.decode()

    assert "<h1>Our rules</h1>" in body
    assert "Version 2" in body


def test_policy_markdown_is_sanitised(client, dave):
    fields = services.policy_fields(services.current_policy())
    services.publish_policy(
        actor=dave,
        **{
            **fields,
            "body": "<script>alert(1)</script>\n\n[x](javascript:alert(1))\n\n![t](https://t.example/p.png)",
        },
    )

    body = client.get("/security").content.decode()

    assert "<script>alert" not in body
    assert "&lt;script&gt;" in body
    assert 'href="javascript:' not in body
    assert '<img src="https://t.example' not in body


def test_only_admins_see_the_edit_link(client, client_as, dave, alice):
    edit = reverse("intake:edit_policy")

    assert edit not in client.get("/security").content.decode()
    assert edit not in client_as(alice).get("/security").content.decode()
    assert edit in client_as(dave).get("/security").content.decode()


def test_an_emptied_policy_table_gets_the_default_back():
    Policy.objects.all().delete()

    policy = services.current_policy()

    assert (policy.version, policy.title) == (1, policy_defaults.TITLE)
    services.create_default_policy()  # idempotent
    assert Policy.objects.count() == 1


def test_a_policy_version_describes_itself():
    assert str(services.current_policy()) == "Vulnerability disclosure policy (version 1)"
