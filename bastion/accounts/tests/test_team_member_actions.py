"""Switching a staff member's sign-in off and on from the Team page: what the admin is told, and a 404."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from bastion.accounts.models import User

pytestmark = pytest.mark.django_db


def told(response) -> list[str]:
    """The messages the response leaves for the Team page."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_reactivating_says_the_member_can_sign_in_again(client_as, dave, alice):
    alice.is_active = False
    alice.save()

    response = client_as(dave, reauthenticated=True).post(reverse("accounts:reactivate", args=[alice.pk]))

    assert (response.status_code, response["Location"]) == (302, reverse("accounts:team"))
    assert told(response) == ["alice@bastion.example can sign in again."]
    alice.refresh_from_db()
    assert alice.is_active


def test_the_last_admin_is_told_why_they_cannot_switch_themselves_off(client_as, dave):
    response = client_as(dave, reauthenticated=True).post(reverse("accounts:deactivate", args=[dave.pk]))

    assert response["Location"] == reverse("accounts:team")
    assert told(response) == [
        "You cannot deactivate yourself: you are the last active admin. "
        "Make another staff member an admin first."
    ]
    dave.refresh_from_db()
    assert dave.is_active


@pytest.mark.parametrize("action", ["accounts:deactivate", "accounts:reactivate"])
def test_an_unknown_member_is_a_404_that_changes_nobody(client_as, dave, alice, action):
    nobody = max(User.objects.values_list("pk", flat=True)) + 1

    response = client_as(dave, reauthenticated=True).post(reverse(action, args=[nobody]))

    assert response.status_code == 404
    assert told(response) == []
    assert set(User.objects.values_list("is_active", flat=True)) == {True}
