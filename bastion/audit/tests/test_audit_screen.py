"""The audit screen: admins only, filterable, paginated, and every viewing is itself audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bastion.audit.events import ActorKind, Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import Actor, record
from bastion.audit.testing import triggers_suspended

pytestmark = pytest.mark.django_db

URL = reverse("audit:events")
VERIFY_URL = reverse("audit:verify")


@pytest.fixture
def admin_client(client_as, dave):
    return client_as(dave)


def views_recorded() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=Event.AUDIT_VIEWED))


def test_it_sends_anonymous_visitors_to_sign_in(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert views_recorded() == []


@pytest.mark.parametrize("persona", ["alice", "charlie"])  # a triager and a viewer
def test_it_rejects_staff_who_are_not_admins(client_as, request, persona):
    response = client_as(request.getfixturevalue(persona)).get(URL)

    assert response.status_code == 403
    assert views_recorded() == []


@pytest.mark.parametrize("persona", ["alice", "charlie"])
def test_it_rejects_verification_by_staff_who_are_not_admins(client_as, request, persona):
    response = client_as(request.getfixturevalue(persona)).post(VERIFY_URL)

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(event=Event.AUDIT_VERIFIED).exists()


def test_it_shows_events_to_an_admin_newest_first(admin_client, alice):
    record(event=Event.ROLE_CHANGED, actor=None, target=alice, data={"from": "viewer", "to": "triager"})
    record(event=Event.LOGIN_FAILED, actor=Actor.claimed("mallory@example.com"), ip="198.51.100.4")

    response = admin_client.get(URL)

    assert response.status_code == 200
    body = response.content.decode()
    assert "mallory@example.com" in body
    assert "198.51.100.4" in body
    assert f"accounts.user:{alice.pk}" in body
    shown = [row.event for row in response.context["page"]]
    assert shown.index(Event.LOGIN_FAILED) < shown.index(Event.ROLE_CHANGED)
    assert [row.pk for row in response.context["page"]] == sorted(
        (row.pk for row in response.context["page"]), reverse=True
    )


def test_viewing_the_screen_is_audited_with_its_filters(admin_client, dave):
    admin_client.get(URL, {"event": Event.LOGIN_FAILED, "actor": "mallory"})

    (viewed,) = views_recorded()
    assert viewed.actor_id == dave.pk
    assert viewed.actor_kind == ActorKind.STAFF
    assert viewed.actor_label == "dave@bastion.example"
    assert viewed.data == {"filters": {"event": "auth.login_failed", "actor": "mallory"}, "page": 1}
    assert viewed.ip == "127.0.0.1"


def test_it_filters_by_actor_event_and_target(admin_client, alice):
    record(event=Event.ROLE_CHANGED, actor=alice, target=alice)
    record(event=Event.LOGIN_FAILED, actor=Actor.claimed("mallory@example.com"))
    record(event=Event.LOGIN_FAILED, actor=Actor.claimed("trent@example.com"))

    by_actor = admin_client.get(URL, {"actor": "MALLORY"}).context["page"]
    by_event = admin_client.get(URL, {"event": Event.ROLE_CHANGED}).context["page"]
    by_target = admin_client.get(URL, {"target_type": "accounts.user", "target_id": str(alice.pk)}).context[
        "page"
    ]

    assert [row.actor_label for row in by_actor] == ["mallory@example.com"]
    assert [row.actor_label for row in by_event] == ["alice@bastion.example"]
    assert [row.event for row in by_target] == [Event.ROLE_CHANGED]


def test_it_filters_by_time_window(admin_client):
    record(event=Event.LOGOUT, actor=None)
    now = timezone.now()

    later = admin_client.get(URL, {"occurred_from": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")})
    earlier = admin_client.get(URL, {"occurred_to": (now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")})

    assert list(later.context["page"]) == []
    assert Event.LOGOUT in [row.event for row in earlier.context["page"]]


def test_it_pages_fifty_at_a_time_and_keeps_the_filters(admin_client):
    for _ in range(60):
        record(event=Event.LOGIN_FAILED, actor=None)

    first = admin_client.get(URL, {"event": Event.LOGIN_FAILED})
    second = admin_client.get(URL, {"event": Event.LOGIN_FAILED, "page": "2"})

    assert len(first.context["page"]) == 50
    assert len(second.context["page"]) == 10
    assert "event=auth.login_failed&amp;page=2" in first.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"occurred_from": "not a date"},
        {"occurred_to": "2026-02-30T10:00"},
        {"event": "reports.made_up"},
        {"occurred_from": "2026-05-02T10:00", "occurred_to": "2026-05-01T10:00"},
        {"actor": "x" * 300},
    ],
)
def test_bad_filters_give_a_form_error_not_a_crash(admin_client, params):
    response = admin_client.get(URL, params)

    assert response.status_code == 200
    assert response.context["form"].errors
    assert response.context["page"] is None
    assert 'class="errorlist' in response.content.decode()
    assert views_recorded() == []


def test_a_nonsense_page_number_shows_a_page_anyway(admin_client):
    response = admin_client.get(URL, {"page": "many"})

    assert response.status_code == 200
    assert response.context["page"].number == 1


def test_an_admin_can_verify_the_chain_from_the_screen(admin_client, dave):
    record(event=Event.LOGOUT, actor=None)
    # Signing in may have audited events of its own (the accounts app records logins).
    events_so_far = AuditEvent.objects.count()

    response = admin_client.post(VERIFY_URL, follow=True)

    assert response.status_code == 200
    body = response.content.decode()
    assert f"Audit chain intact: {events_so_far} events." in body
    assert "Intact" in body
    verified = AuditEvent.objects.filter(event=Event.AUDIT_VERIFIED).get()
    assert verified.actor_id == dave.pk


def test_the_screen_shows_a_broken_chain(admin_client):
    first = record(event=Event.LOGOUT, actor=None)
    record(event=Event.LOGOUT, actor=None)
    with triggers_suspended():
        AuditEvent.objects.filter(pk=first.pk).update(actor_label="forged")

    response = admin_client.post(VERIFY_URL, follow=True)

    body = response.content.decode()
    assert f"Audit chain BROKEN at event #{first.pk}" in body
    assert "Broken" in body


def test_verification_needs_a_post(admin_client):
    assert admin_client.get(VERIFY_URL).status_code == 405
