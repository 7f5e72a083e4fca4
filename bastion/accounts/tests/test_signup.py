"""There is no public signup: the page says staff are invite-only, and posting creates nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bastion.accounts.models import User
from bastion.test import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_signup_page_explains_that_staff_are_invite_only(client):
    response = client.get(reverse("account_signup"))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Staff accounts are invite-only" in body
    assert "site-header" in body  # rendered inside the product's layout


def test_posting_to_signup_creates_no_account(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "mallory@evil.example", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == 200
    assert "Staff accounts are invite-only" in response.content.decode()
    assert not User.objects.exists()


def test_the_login_page_does_not_advertise_signup(client):
    body = client.get(reverse("account_login")).content.decode()

    assert reverse("account_signup") not in body
    assert "invite-only" in body
