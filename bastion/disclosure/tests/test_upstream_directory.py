"""The upstream contact directory: keys checked on the way in, flagged as they lapse, staff only."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pysequoia
import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.disclosure.handoff import HandoffRefused
from bastion.disclosure.models import Channel, UpstreamContact
from bastion.disclosure.services.upstream import ContactDetails, key_status, save_upstream_contact
from bastion.lib.openpgp import generate_org_key
from bastion.reports.tests.conftest import expired_key  # noqa: F401  (a session fixture: gpg's expired key)
from bastion.test import uma

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def uma_key():
    """Uma's key pair, valid for a year (made with the org key's engine: no gpg needed)."""
    return generate_org_key(f"Uma <{uma.email}>", expires_in=timedelta(days=365))


def rails(**overrides: Any) -> ContactDetails:
    """The Rails security team as staff would enter them, with ``overrides``."""
    details = ContactDetails(
        project="Ruby on Rails",
        ecosystem="RubyGems",
        packages="actionpack\nactiverecord\n\nactionpack",
        contact_name=uma.full_name,
        email=uma.email,
        channel=Channel.EMAIL,
    )
    return replace(details, **overrides)


def test_a_contact_is_saved_with_its_key_fingerprint_and_expiry_and_audited(alice, uma_key):
    contact = save_upstream_contact(
        contact=None, data=rails(public_key=uma_key.armored_public()), actor=alice, ip="192.0.2.1"
    )

    contact.refresh_from_db()
    assert contact.key_fingerprint == uma_key.fingerprint
    assert contact.key_expires_at == uma_key.expires_at
    assert contact.packages == "actionpack\nactiverecord"  # one per line, blank lines and repeats gone
    assert key_status(contact).state == "ok"
    event = AuditEvent.objects.get(event=Event.UPSTREAM_CONTACT_SAVED)
    assert event.actor_id == alice.pk
    assert event.data["key_fingerprint"] == uma_key.fingerprint
    assert event.data["created"] is True


def test_an_expired_key_is_refused_with_its_date(alice, expired_key):  # noqa: F811  (the fixture)
    with pytest.raises(HandoffRefused) as refused:
        save_upstream_contact(contact=None, data=rails(public_key=expired_key.public), actor=alice)

    assert refused.value.field == "public_key"
    assert "expired on 2020-01-02" in str(refused.value)
    assert not UpstreamContact.objects.exists()


def test_a_version_6_key_is_refused_with_the_parsers_reason(alice):
    v6 = pysequoia.Tsk.generate("v6 <v6@upstream.example>", profile=pysequoia.Profile.RFC9580)

    with pytest.raises(HandoffRefused) as refused:
        save_upstream_contact(contact=None, data=rails(public_key=str(v6.extract_certificate())), actor=alice)

    assert refused.value.field == "public_key"
    assert "version 6" in str(refused.value)


def test_an_osv_ecosystem_is_spelt_as_osv_spells_it_and_others_are_refused(alice):
    contact = save_upstream_contact(contact=None, data=rails(ecosystem="rubygems"), actor=alice)
    assert contact.ecosystem == "RubyGems"

    with pytest.raises(HandoffRefused) as refused:
        save_upstream_contact(contact=None, data=rails(ecosystem="Gems"), actor=alice)
    assert refused.value.field == "ecosystem"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": ""}, "email"),
        ({"email": "not an address"}, "email"),
        ({"channel": Channel.GITHUB, "channel_url": ""}, "channel_url"),
        ({"channel": Channel.HACKERONE, "channel_url": "javascript:alert(1)"}, "channel_url"),
        ({"project": "  "}, "project"),
        ({"packages": "action pack"}, "packages"),
        ({"notes": "n" * 5001}, "notes"),
    ],
)
def test_a_contact_missing_what_its_channel_needs_is_refused(alice, overrides, field):
    with pytest.raises(HandoffRefused) as refused:
        save_upstream_contact(contact=None, data=rails(**overrides), actor=alice)

    assert refused.value.field == field
    assert not UpstreamContact.objects.exists()


def test_a_key_that_lapsed_since_does_not_stop_editing_the_rest(alice):
    short = generate_org_key(f"Uma <{uma.email}>", expires_in=timedelta(days=2))
    contact = save_upstream_contact(contact=None, data=rails(public_key=short.armored_public()), actor=alice)

    with time_machine.travel(timezone.now() + timedelta(days=3)):
        assert key_status(contact).state == "expired"
        edited = save_upstream_contact(
            contact=contact, data=rails(public_key=contact.public_key, contact_name="Uma M."), actor=alice
        )

    assert edited.contact_name == "Uma M."
    assert edited.key_fingerprint == short.fingerprint


def test_a_key_expiring_within_30_days_needs_attention(alice):
    soon = generate_org_key(f"Uma <{uma.email}>", expires_in=timedelta(days=20))
    contact = save_upstream_contact(contact=None, data=rails(public_key=soon.armored_public()), actor=alice)

    status = key_status(contact)
    assert status.state == "expiring"
    assert status.needs_attention


def test_two_staff_editing_one_contact_is_a_refused_stale_edit(alice, bob):
    contact = save_upstream_contact(contact=None, data=rails(), actor=alice)
    seen = contact.updated_at
    save_upstream_contact(contact=contact, data=rails(contact_name="Uma"), actor=bob, seen_updated_at=seen)

    stale = UpstreamContact.objects.get(pk=contact.pk)
    with pytest.raises(ValidationError) as refused:
        save_upstream_contact(contact=stale, data=rails(contact_name="U."), actor=alice, seen_updated_at=seen)

    assert refused.value.code == "stale_edit"
    assert UpstreamContact.objects.get(pk=contact.pk).contact_name == "Uma"


def test_it_rejects_a_viewer_keeping_the_directory(charlie):
    with pytest.raises(PermissionDenied):
        save_upstream_contact(contact=None, data=rails(), actor=charlie)


# --- Pages ----------------------------------------------------------------------------------------


def test_the_list_puts_expired_and_expiring_keys_up_front(alice, client_as):
    soon = generate_org_key(f"Uma <{uma.email}>", expires_in=timedelta(days=10))
    lapsing = generate_org_key(f"Uma <{uma.email}>", expires_in=timedelta(days=1))
    save_upstream_contact(
        contact=None, data=rails(project="Rack", public_key=soon.armored_public()), actor=alice
    )
    save_upstream_contact(
        contact=None, data=rails(project="Ruby", public_key=lapsing.armored_public()), actor=alice
    )

    with time_machine.travel(timezone.now() + timedelta(days=2)):
        response = client_as(alice).get(reverse("disclosure_staff:upstreams"))

    assert response.status_code == 200
    problems = response.content.decode().split('id="key-problems"')[1].split("</section>")[0]
    assert "Rack" in problems
    assert "expires" in problems
    assert "Ruby" in problems
    assert "expired" in problems
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_refused_key_is_shown_beside_its_field_with_the_text_kept(alice, client_as, expired_key):  # noqa: F811
    form = {
        "project": "Ruby on Rails",
        "ecosystem": "RubyGems",
        "email": uma.email,
        "channel": "email",
        "public_key": expired_key.public,
        "active": "on",
    }

    response = client_as(alice).post(reverse("disclosure_staff:upstream_new"), form)

    assert response.status_code == 400
    page = response.content.decode()
    assert "expired on 2020-01-02" in page
    assert "Ruby on Rails" in page
    assert "BEGIN PGP PUBLIC KEY BLOCK" in page  # the paste is kept, to fix and resend
    assert not UpstreamContact.objects.exists()


def test_staff_add_a_contact_through_the_form(alice, client_as, uma_key):
    form = {
        "project": "Ruby on Rails",
        "ecosystem": "RubyGems",
        "packages": "actionpack",
        "email": uma.email,
        "channel": "email",
        "public_key": uma_key.armored_public(),
        "active": "on",
    }

    response = client_as(alice).post(reverse("disclosure_staff:upstream_new"), form)

    assert response.status_code == 303
    contact = UpstreamContact.objects.get()
    assert contact.key_fingerprint == uma_key.fingerprint
    page = client_as(alice).get(reverse("disclosure_staff:upstream_edit", args=[contact.uid]))
    assert uma_key.fingerprint in page.content.decode()


@pytest.mark.parametrize("name", ["upstreams", "upstream_new"])
def test_it_rejects_a_viewer_and_an_anonymous_visitor(charlie, client_as, client, name):
    url = reverse(f"disclosure_staff:{name}")

    assert client_as(charlie).get(url).status_code == 403
    assert client_as(charlie).post(url, {"project": "X", "channel": "email"}).status_code == 403
    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]
    assert not UpstreamContact.objects.exists()
