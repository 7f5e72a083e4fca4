"""Staff edit their own name and time zone; the profile links to MFA and password management."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bastion.accounts import services
from bastion.accounts.models import time_zone_names
from bastion.audit.events import Event
from bastion.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_it_rejects_the_profile_page_for_anonymous_visitors(client):
    response = client.get(reverse("accounts:profile"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_the_profile_shows_mfa_devices_and_account_links(client_as, charlie):
    page = client_as(charlie).get(reverse("accounts:profile"))

    assert page.status_code == 200
    body = page.content.decode()
    assert "Authenticator app" in body
    assert reverse("mfa_index") in body
    assert reverse("account_change_password") in body
    assert "Viewer" in body


def test_staff_update_their_name_and_time_zone(client_as, charlie):
    client = client_as(charlie)

    response = client.post(
        reverse("accounts:profile"), {"full_name": " Charlie C. ", "time_zone": "Europe/Paris"}
    )

    assert response.status_code == 302
    charlie.refresh_from_db()
    assert (charlie.full_name, charlie.time_zone) == ("Charlie C.", "Europe/Paris")
    assert "Your profile was saved." in client.get(response["Location"]).content.decode()
    event = AuditEvent.objects.get(event=Event.PROFILE_UPDATED)
    assert event.actor_id == charlie.pk
    assert event.data == {"fields": ["full_name", "time_zone"]}


def test_saving_an_unchanged_profile_records_nothing(client_as, charlie):
    client_as(charlie).post(reverse("accounts:profile"), {"full_name": charlie.full_name, "time_zone": "UTC"})

    assert not AuditEvent.objects.filter(event=Event.PROFILE_UPDATED).exists()


def test_it_rejects_an_unknown_time_zone(client_as, charlie):
    response = client_as(charlie).post(
        reverse("accounts:profile"), {"full_name": "C", "time_zone": "Mars/Olympus_Mons"}
    )

    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    charlie.refresh_from_db()
    assert charlie.time_zone == "UTC"


def test_the_service_refuses_an_unknown_time_zone_too(charlie):
    with pytest.raises(Exception, match="not a known time zone"):
        services.update_profile(actor=charlie, user=charlie, full_name="C", time_zone="Europe/Atlantis")


def test_the_time_zone_choices_are_sorted_iana_names(client_as, charlie):
    choices = [
        value
        for value, _ in client_as(charlie)
        .get(reverse("accounts:profile"))
        .context["form"]
        .fields["time_zone"]
        .choices
    ]

    assert choices == sorted(choices)
    assert {"UTC", "Europe/Paris", "America/New_York"} <= set(choices)
    assert "localtime" not in choices
    assert tuple(choices) == time_zone_names()


def test_nobody_edits_someone_elses_profile(alice, bob):
    with pytest.raises(Exception, match="only their own profile"):
        services.update_profile(actor=alice, user=bob, full_name="Mallory", time_zone="UTC")
