"""Two staff editing one hand-off or one upstream contact: the second save is refused, then re-shown.

Like the advisory editor: the refused form keeps what its editor typed, the page shows what is
saved now, and the form carries the current version, so saving again is a choice made knowing the
other change. Posting the stale form again as it was still changes nothing.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from bastion.disclosure.models import Channel, Handoff, HandoffStatus, UpstreamContact
from bastion.disclosure.services.handoff import export_handoff, update_handoff
from bastion.disclosure.services.upstream import ContactDetails, save_upstream_contact
from bastion.lib.openpgp import generate_org_key
from bastion.reports.models import Report
from bastion.reports.tests.conftest import private_vault, submit  # noqa: F401  (fixtures)
from bastion.test import uma

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def uma_key():
    return generate_org_key(f"Uma <{uma.email}>", expires_in=timedelta(days=365))


def rails_details(**overrides: Any) -> ContactDetails:
    values: dict[str, Any] = {
        "project": "Ruby on Rails",
        "ecosystem": "RubyGems",
        "packages": "actionpack",
        "email": uma.email,
        "channel": Channel.EMAIL,
    }
    return ContactDetails(**(values | overrides))


@pytest.fixture
def rails(alice, uma_key) -> UpstreamContact:
    return save_upstream_contact(
        contact=None, data=rails_details(public_key=uma_key.armored_public()), actor=alice
    )


@pytest.fixture
def handoff(submit, rails, alice) -> Handoff:  # noqa: F811  (the imported fixture)
    report: Report = submit().report
    return export_handoff(
        report=report, contact=rails, sections=["summary"], include_identity=False, deadline=None, actor=alice
    ).handoff


def hidden_value(page: str, name: str) -> str:
    """The value of the hidden input ``name`` as the page renders it."""
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden input {name}"
    return html.unescape(found.group(1))


def section(page: str, element_id: str) -> str:
    start = page.index(f'id="{element_id}"')
    return page[start : page.index("</dl>", start)]


# --- The hand-off's follow-up form -----------------------------------------------------------------


def test_a_stale_hand_off_update_is_shown_again_with_the_current_version_and_the_editors_input(
    handoff, alice, bob, client_as
):
    url = reverse("disclosure_staff:handoff", args=[handoff.uid])
    loaded = handoff.version
    update_handoff(
        handoff=handoff,
        status=HandoffStatus.FIXED,
        deadline=None,
        ghsa_id="",
        cve_id="CVE-2026-1234",
        tracking_url="",
        seen_version=loaded,
        actor=bob,
    )
    mine = {"status": "acknowledged", "reason": "They reopened it on the list", "version": loaded}

    refused = client_as(alice).post(url, {**mine, "ghsa_id": "GHSA-j8r2-6x86-q33q"})

    assert refused.status_code == 409
    page = refused.content.decode()
    assert "Someone else updated this hand-off while you were editing it" in page
    assert "save again to replace theirs" in page
    now = Handoff.objects.get(pk=handoff.pk)
    assert hidden_value(page, "version") == str(now.version) != str(loaded)
    saved_now = section(page, "handoff-now-saved")
    assert "Fixed" in saved_now
    assert "CVE-2026-1234" in saved_now
    assert "They reopened it on the list" in page  # the editor's reason, kept
    assert 'value="GHSA-j8r2-6x86-q33q"' in page
    assert re.search(r'<option value="acknowledged" selected>', page)
    assert now.status == HandoffStatus.FIXED


def test_saving_the_re_shown_hand_off_form_replaces_the_newer_change_and_the_old_form_never_does(
    handoff, alice, bob, client_as
):
    url = reverse("disclosure_staff:handoff", args=[handoff.uid])
    stale = {"status": "fixed", "cve_id": "CVE-2026-9999", "version": handoff.version}
    assert client_as(bob).post(url, {**stale, "cve_id": "CVE-2026-1234"}).status_code == 303
    alice_client: Client = client_as(alice)
    shown = alice_client.post(url, stale).content.decode()

    assert alice_client.post(url, stale).status_code == 409  # the stale page again: still refused
    assert Handoff.objects.get(pk=handoff.pk).cve_id == "CVE-2026-1234"
    again = alice_client.post(url, {**stale, "version": hidden_value(shown, "version")})

    assert again.status_code == 303
    assert Handoff.objects.get(pk=handoff.pk).cve_id == "CVE-2026-9999"


# --- The upstream contact's edit form --------------------------------------------------------------


def contact_form(contact: UpstreamContact, **changes: str) -> dict[str, str]:
    """What the edit page posts for ``contact`` as it was loaded, with ``changes`` typed in."""
    posted = {
        "project": contact.project,
        "ecosystem": contact.ecosystem,
        "packages": contact.packages,
        "contact_name": contact.contact_name,
        "email": contact.email,
        "public_key": contact.public_key,
        "channel": contact.channel,
        "channel_url": contact.channel_url,
        "notes": contact.notes,
        "active": "on" if contact.active else "",
        "seen_updated_at": contact.updated_at.isoformat(),
    }
    return posted | changes


def test_a_stale_contact_edit_is_shown_again_with_what_is_saved_now_and_the_editors_input(
    rails, alice, bob, client_as
):
    url = reverse("disclosure_staff:upstream_edit", args=[rails.uid])
    alices_form = contact_form(rails, contact_name="U. Maintainer", notes="Answers within a day")
    loaded = alices_form["seen_updated_at"]
    save_upstream_contact(
        contact=rails,
        data=rails_details(contact_name="Uma", public_key=rails.public_key),
        actor=bob,
        seen_updated_at=rails.updated_at,
    )

    refused = client_as(alice).post(url, alices_form)

    assert refused.status_code == 409
    page = refused.content.decode()
    assert "Someone else saved this contact at" in page
    assert "save again to replace theirs" in page
    now = UpstreamContact.objects.get(pk=rails.pk)
    assert hidden_value(page, "seen_updated_at") == now.updated_at.isoformat() != loaded
    assert "Uma" in section(page, "upstream-now-saved")
    assert 'value="U. Maintainer"' in page  # her input, kept in the form
    assert "Answers within a day" in page
    assert now.contact_name == "Uma"


def test_saving_the_re_shown_contact_form_replaces_the_newer_change_and_the_old_form_never_does(
    rails, alice, bob, client_as
):
    url = reverse("disclosure_staff:upstream_edit", args=[rails.uid])
    stale = contact_form(rails, contact_name="U. Maintainer")
    assert client_as(bob).post(url, contact_form(rails, contact_name="Uma")).status_code == 303
    alice_client: Client = client_as(alice)
    shown = alice_client.post(url, stale).content.decode()

    assert alice_client.post(url, stale).status_code == 409
    assert UpstreamContact.objects.get(pk=rails.pk).contact_name == "Uma"
    again = alice_client.post(url, {**stale, "seen_updated_at": hidden_value(shown, "seen_updated_at")})

    assert again.status_code == 303
    assert UpstreamContact.objects.get(pk=rails.pk).contact_name == "U. Maintainer"


@pytest.mark.parametrize("seen", ["", "not a time"])
def test_a_contact_edit_that_does_not_say_which_version_it_edits_overwrites_nothing(
    rails, alice, client_as, seen
):
    url = reverse("disclosure_staff:upstream_edit", args=[rails.uid])

    refused = client_as(alice).post(
        url, contact_form(rails, contact_name="U. Maintainer", seen_updated_at=seen)
    )

    assert refused.status_code == 409
    assert hidden_value(refused.content.decode(), "seen_updated_at") == rails.updated_at.isoformat()
    assert UpstreamContact.objects.get(pk=rails.pk).contact_name == ""
