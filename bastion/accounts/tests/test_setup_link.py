"""The first admin comes from a one-time setup link: single use, expiring, and audited."""

from __future__ import annotations

import io
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bastion.accounts import services
from bastion.accounts.errors import LinkRejected
from bastion.accounts.models import Role, SetupLink, User
from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.test import PASSWORD, make_staff

pytestmark = pytest.mark.django_db

FORM = {
    "email": "Dave@Bastion.Example",
    "full_name": "Dave Lead",
    "password1": PASSWORD,
    "password2": PASSWORD,
}


def path_of(url: str | None) -> str:
    assert url is not None, "no setup link was issued"
    return urlsplit(url).path


def rejections():
    return list(
        AuditEvent.objects.filter(event=Event.SETUP_LINK_REJECTED)
        .order_by("id")
        .values_list("data", flat=True)
    )


def test_it_creates_the_first_admin_from_a_setup_link(client, settings):
    url = services.issue_setup_link()
    assert url is not None
    assert url.startswith(settings.BASE_URL + "/accounts/setup/")
    assert client.get(path_of(url)).status_code == 200

    response = client.post(path_of(url), FORM)

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    dave = User.objects.get()
    assert (dave.email, dave.full_name, dave.role, dave.is_active) == (
        "dave@bastion.example",
        "Dave Lead",
        Role.ADMIN,
        True,
    )
    assert dave.check_password(PASSWORD)
    assert SetupLink.objects.get().used_at is not None
    completed = AuditEvent.objects.get(event=Event.SETUP_COMPLETED)
    assert completed.actor_id == dave.pk
    assert AuditEvent.objects.filter(event=Event.SETUP_LINK_ISSUED).exists()


def test_the_new_admin_goes_straight_to_totp_enrolment_without_retyping_the_password(client):
    url = services.issue_setup_link()
    client.post(path_of(url), FORM)

    page = client.get(reverse("mfa_activate_totp"))

    assert page.status_code == 200
    assert "Set up an authenticator app" in page.content.decode()
    # Everything else waits until a second factor is enrolled.
    assert client.get(reverse("home"))["Location"] == reverse("mfa_activate_totp")


def test_it_rejects_a_used_setup_link(client):
    url = services.issue_setup_link()
    client.post(path_of(url), FORM)
    client.post(reverse("account_logout"))

    response = client.get(path_of(url))

    assert response.status_code == 410
    body = response.content.decode()
    assert "This setup link has already been used." in body
    assert "bastion setup-link" in body
    assert rejections() == [{"reason": "used"}]


def test_it_rejects_a_second_submission_of_the_same_link(client):
    url = services.issue_setup_link()
    client.post(path_of(url), FORM)

    # Someone else, holding a copy of the link, tries it afterwards.
    response = Client().post(path_of(url), {**FORM, "email": "mallory@evil.example"})

    assert response.status_code == 410
    assert User.objects.count() == 1


def test_it_rejects_an_expired_setup_link(client, settings):
    url = services.issue_setup_link()

    with time_machine.travel(timezone.now() + timedelta(hours=settings.SETUP_LINK_HOURS, seconds=1)):
        response = client.get(path_of(url))

    assert response.status_code == 410
    assert "This setup link has expired." in response.content.decode()
    assert rejections() == [{"reason": "expired"}]


@pytest.mark.parametrize("token", ["short", "x" * 43 + "!", "%00" * 20, "a" * 200])
def test_it_rejects_a_malformed_setup_link(client, token):
    response = client.get(f"/accounts/setup/{token}/")

    assert response.status_code == 404
    assert "This setup link is not valid." in response.content.decode()
    assert rejections() == [{"reason": "malformed"}]


def test_it_rejects_an_unknown_setup_link(client):
    services.issue_setup_link()

    response = client.get(reverse("accounts:setup", args=["A" * 43]))

    assert response.status_code == 404
    assert rejections() == [{"reason": "unknown"}]


def test_it_stores_only_a_hash_of_the_token():
    url = services.issue_setup_link()
    token = path_of(url).rstrip("/").rsplit("/", 1)[1]

    link = SetupLink.objects.get()
    assert token not in link.token_hash
    assert len(token) == 43  # 32 random bytes, URL-safe base64
    assert token not in str(list(AuditEvent.objects.values("data", "target_id")))


def test_issuing_a_link_voids_the_older_unused_one(client):
    first = services.issue_setup_link()
    second = services.issue_setup_link()

    assert client.get(path_of(first)).status_code == 410
    assert client.get(path_of(second)).status_code == 200


def test_no_link_is_issued_once_staff_exist():
    make_staff("alice")

    assert services.issue_setup_link() is None
    assert not SetupLink.objects.exists()


def test_an_outstanding_link_stops_working_once_staff_exist(client):
    url = services.issue_setup_link()
    make_staff("alice")

    response = client.get(path_of(url))

    assert response.status_code == 410
    assert rejections() == [{"reason": "admin_exists"}]


def test_the_link_is_claimed_once_even_when_two_requests_race():
    url = services.issue_setup_link()
    token = path_of(url).rstrip("/").rsplit("/", 1)[1]
    # The other request won between our check and our claim.
    SetupLink.objects.update(used_at=timezone.now())

    with pytest.raises(LinkRejected) as rejected:
        services.complete_setup(
            token=token, email="x@bastion.example", full_name="X", password=PASSWORD, actor=None
        )

    assert rejected.value.status == 410
    assert not User.objects.exists()


def test_it_checks_the_password_with_the_django_validators(client):
    url = services.issue_setup_link()

    response = client.post(path_of(url), {**FORM, "password1": "12345", "password2": "12345"})

    assert response.status_code == 200
    body = response.content.decode()
    assert "This password is too short." in body
    assert not User.objects.exists()
    assert SetupLink.objects.get().used_at is None


def test_it_refuses_mismatched_passwords(client):
    url = services.issue_setup_link()

    response = client.post(path_of(url), {**FORM, "password2": PASSWORD + "x"})

    assert "The two passwords do not match." in response.content.decode()
    assert not User.objects.exists()


def test_the_setup_link_command_prints_a_link():
    out = io.StringIO()

    call_command("setup_link", stdout=out)

    assert "/accounts/setup/" in out.getvalue()
    assert SetupLink.objects.count() == 1


def test_the_setup_link_command_says_when_an_admin_exists():
    make_staff("dave")
    out = io.StringIO()

    call_command("setup_link", stdout=out)

    assert "An active staff account already exists" in out.getvalue()
    assert not SetupLink.objects.exists()
