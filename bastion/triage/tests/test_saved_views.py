"""Saved inbox views: private or shared with the team, filters only, deleted by their owner alone."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bastion.triage.models import SavedView

INBOX = reverse("triage:inbox")
SAVE = reverse("triage:saved_view_save")


def save(client, name: str, query: str, *, shared: bool = False):
    data = {"name": name, "query": query} | ({"shared": "1"} if shared else {})
    return client.post(SAVE, data)


def test_a_private_view_shows_on_its_owners_inbox_only(client_as, alice, bob):
    response = save(client_as(alice), "My queue", "assignee=me&status=open")

    assert response.status_code == 303
    assert response["Location"] == f"{INBOX}?assignee=me&status=open"
    view = SavedView.objects.get()
    assert (view.owner, view.name, view.query, view.shared) == (
        alice,
        "My queue",
        "assignee=me&status=open",
        False,
    )
    assert "My queue" in client_as(alice).get(INBOX).content.decode()
    assert "My queue" not in client_as(bob).get(INBOX).content.decode()


def test_a_shared_view_shows_on_the_whole_teams_inbox_with_its_owners_name(client_as, alice, bob):
    save(client_as(alice), "Overdue criticals", "severity=critical&clock=overdue", shared=True)

    html = client_as(bob).get(INBOX).content.decode()

    assert "Overdue criticals" in html
    assert alice.full_name in html
    assert reverse("triage:saved_view_delete", args=[SavedView.objects.get().pk]) not in html


def test_a_view_keeps_filters_only_never_a_page_position_or_searched_words(client_as, alice):
    save(client_as(alice), "Email", "channel=email&after=abc&text=secret+words&limit=5&q=")

    assert SavedView.objects.get().query == "channel=email"


def test_saving_under_the_same_name_replaces_your_own_view(client_as, alice, bob):
    save(client_as(bob), "Mine", "status=new")
    client = client_as(alice)
    save(client, "Mine", "status=new")

    save(client, "Mine", "status=triaged", shared=True)

    assert SavedView.objects.get(owner=alice).query == "status=triaged"
    assert SavedView.objects.get(owner=bob).query == "status=new"


def test_it_refuses_to_save_filters_that_do_not_work(client_as, alice):
    response = client_as(alice).post(SAVE, {"name": "Broken", "query": "status=nonsense"}, follow=True)

    assert not SavedView.objects.exists()
    assert "Fix the filters before saving them as a view." in [str(m) for m in response.context["messages"]]


def test_it_needs_a_name(client_as, alice):
    response = client_as(alice).post(SAVE, {"name": "", "query": "status=new"}, follow=True)

    assert not SavedView.objects.exists()
    assert "Give the view a name." in [str(m) for m in response.context["messages"]]


def test_the_owner_deletes_their_view(client_as, alice):
    client = client_as(alice)
    save(client, "Old", "status=new", shared=True)

    response = client.post(reverse("triage:saved_view_delete", args=[SavedView.objects.get().pk]))

    assert response.status_code == 303
    assert not SavedView.objects.exists()


def test_nobody_deletes_someone_elses_view_even_a_shared_one(client_as, alice, bob, dave):
    save(client_as(alice), "Team queue", "status=new", shared=True)
    view = SavedView.objects.get()

    for other in (bob, dave):
        response = client_as(other).post(reverse("triage:saved_view_delete", args=[view.pk]))
        assert response.status_code == 404

    assert SavedView.objects.filter(pk=view.pk).exists()


@pytest.mark.parametrize("url", ["save", "delete"])
def test_it_rejects_anonymous_visitors_and_viewers(client, client_as, alice, charlie, url):
    save(client_as(alice), "Alice's", "status=new")
    target = SAVE if url == "save" else reverse("triage:saved_view_delete", args=[SavedView.objects.get().pk])
    data = {"name": "Sneaky", "query": "status=new"}

    anonymous = client.post(target, data)
    viewer = client_as(charlie).post(target, data)

    assert anonymous.status_code == 302
    assert reverse("account_login") in anonymous["Location"]
    assert viewer.status_code == 403
    assert list(SavedView.objects.values_list("name", flat=True)) == ["Alice's"]


def test_saving_and_deleting_are_posts_only(client_as, alice):
    assert client_as(alice).get(SAVE).status_code == 405
