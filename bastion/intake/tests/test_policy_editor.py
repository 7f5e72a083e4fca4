"""The policy editor: admins only, with a fresh reauthentication; publishing makes version N+1."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.urls import reverse

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.intake import services
from bastion.intake.models import Policy
from bastion.test import PASSWORD

pytestmark = pytest.mark.django_db

EDIT = "/security/policy/edit"


def edited(**changes):
    return {**services.policy_fields(services.current_policy()), **changes}


def test_it_rejects_anonymous_visitors(client):
    for response in (client.get(EDIT), client.post(EDIT, edited(title="Hacked"))):
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('account_login')}?next={EDIT}"
    assert Policy.objects.count() == 1


@pytest.mark.parametrize("persona", ["alice", "charlie"])
def test_it_rejects_triagers_and_viewers(request, client_as, persona):
    client = client_as(request.getfixturevalue(persona), reauthenticated=True)

    assert client.get(EDIT).status_code == 403
    assert client.post(EDIT, edited(title="Hacked")).status_code == 403
    assert Policy.objects.count() == 1


def test_the_form_starts_from_the_version_in_force(client_as, dave):
    page = client_as(dave).get(EDIT)

    assert page.status_code == 200
    assert page.context["form"].initial["title"] == "Vulnerability disclosure policy"
    assert "Publish version 2" in page.content.decode()


def test_an_admin_publishes_a_new_version_and_it_is_audited(client_as, dave):
    response = client_as(dave, reauthenticated=True).post(EDIT, edited(title="Our rules", triage_days="3"))

    assert response.status_code == 302
    assert response["Location"] == reverse("intake:policy")
    new = Policy.objects.get(version=2)
    assert (new.title, new.triage_days, new.published_by) == ("Our rules", 3, dave)
    assert Policy.objects.get(version=1).title == "Vulnerability disclosure policy"  # kept as it was
    event = AuditEvent.objects.get(event=Event.POLICY_PUBLISHED)
    assert (event.actor_id, event.target_type, event.target_id) == (dave.pk, "intake.policy", str(new.pk))
    assert event.data == {"version": 2, "previous_version": 1}
    assert event.ip == "127.0.0.1"


def test_publishing_without_a_recent_reauthentication_asks_first_and_loses_nothing(client_as, dave):
    client = client_as(dave)

    response = client.post(EDIT, edited(title="Written slowly"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert Policy.objects.count() == 1
    # allauth kept the POST; confirming the password replays it.
    client.post(f"{reverse('account_reauthenticate')}?next={EDIT}", {"password": PASSWORD})
    assert Policy.objects.get(version=2).title == "Written slowly"


def test_an_unchanged_policy_is_not_published_again(client_as, dave):
    page = client_as(dave, reauthenticated=True).post(EDIT, edited())

    assert page.status_code == 200
    assert "Nothing changed" in page.content.decode()
    assert Policy.objects.count() == 1
    assert not AuditEvent.objects.filter(event=Event.POLICY_PUBLISHED).exists()


def test_invalid_targets_are_refused(client_as, dave):
    page = client_as(dave, reauthenticated=True).post(EDIT, edited(first_response_hours="0", title=""))

    assert page.status_code == 200
    assert set(page.context["form"].errors) == {"first_response_hours", "title"}
    assert Policy.objects.count() == 1


def test_a_published_version_cannot_be_edited_in_place():
    policy = services.current_policy()
    policy.title = "Rewritten history"

    with pytest.raises(ValueError, match="immutable"):
        policy.save()


def test_publishing_twice_in_a_row_counts_up(dave):
    first = services.publish_policy(actor=dave, **edited(title="Two"))
    second = services.publish_policy(actor=dave, **edited(title="Three"))

    assert (first.version, second.version) == (2, 3)
    assert services.current_policy() == second


def test_the_service_refuses_an_identical_version(dave):
    with pytest.raises(ValidationError, match="Nothing changed"):
        services.publish_policy(actor=dave, **edited())


def test_a_publisher_who_loses_the_race_for_a_version_number_takes_the_next(dave, monkeypatch):
    # Another admin published version 2 between this one's read and insert: replay that by
    # showing the publisher a stale "newest" once.
    services.publish_policy(actor=dave, **edited(title="Theirs"))
    mine = edited(title="Mine")
    stale = [Policy.objects.get(version=1)]
    real_newest = Policy.objects.newest
    monkeypatch.setattr(type(Policy.objects), "newest", lambda self: stale.pop() if stale else real_newest())

    published = services.publish_policy(actor=dave, **mine)

    assert stale == []  # it did see the stale version first
    assert published.version == 3
    assert list(Policy.objects.values_list("version", "title"))[:2] == [(3, "Mine"), (2, "Theirs")]


def test_publishing_gives_up_after_repeated_collisions(dave, monkeypatch):
    services.publish_policy(actor=dave, **edited(title="Theirs"))
    mine = edited(title="Mine")
    version_1 = Policy.objects.get(version=1)
    monkeypatch.setattr(type(Policy.objects), "newest", lambda self: version_1)

    with pytest.raises(IntegrityError):
        services.publish_policy(actor=dave, **mine)
