"""The advisory pages' actions that are refused, and sending a draft back: status, words, nothing changed.

The pages' happy paths and the access rules are in ``test_advisory_views.py``.
"""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from bastion.disclosure.models import Advisory, AdvisoryState
from bastion.disclosure.services.advisories import edit_advisory, submit_for_review
from bastion.disclosure.tests.conftest import advisory_url, full_content
from bastion.reports.tests.conftest import private_vault  # noqa: F401  (the autouse fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cve_org")]


def notes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_a_reviewer_sends_a_draft_back_with_what_to_change(client_as, alice, bob, draft):
    submit_for_review(advisory=draft, actor=alice)
    draft.refresh_from_db()

    response = client_as(bob).post(
        advisory_url("advisory_send_back", draft),
        {"version": draft.version, "reason": "Name the fixed version in the summary."},
    )

    assert response.status_code == 303
    assert notes(response) == [f"{draft.identifier} was sent back to its author."]
    assert Advisory.objects.get(pk=draft.pk).state == AdvisoryState.DRAFT


def test_publishing_from_a_page_older_than_the_advisory_is_a_409(client_as, alice, draft):
    shown_version = draft.version
    edit_advisory(
        advisory=draft, content=full_content(workaround="Upgrade."), actor=alice, seen_version=draft.version
    )

    response = client_as(alice).post(advisory_url("advisory_publish", draft), {"version": shown_version})

    assert response.status_code == 409
    assert "Nothing was changed: see the form below." in notes(response)
    assert Advisory.objects.get(pk=draft.pk).published_at is None


def test_republishing_an_advisory_that_did_not_change_is_refused(client_as, alice, published):
    response = client_as(alice).post(
        advisory_url("advisory_republish", published),
        {"version": published.version, "summary": "Nothing really"},
    )

    assert response.status_code == 400
    assert "Nothing changed since" in response.content.decode()
    assert Advisory.objects.get(pk=published.pk).changes.count() == 1


def test_a_new_advisory_without_any_tracking_id_is_refused(client_as, alice, report):
    response = client_as(alice).post(advisory_url("advisory_new"), {"reports": " , "})

    assert response.status_code == 400
    assert "Give at least one tracking ID." in response.content.decode()
    assert not Advisory.objects.exists()


def test_revisions_asked_for_in_junk_fall_back_to_the_latest(client_as, alice, draft):
    response = client_as(alice).get(advisory_url("advisory_revisions", draft) + "?a=first&b=last")

    assert response.status_code == 200
    assert "has no revision" not in response.content.decode()


def test_a_revision_that_does_not_exist_is_named(client_as, alice, draft):
    response = client_as(alice).get(advisory_url("advisory_revisions", draft) + "?a=1&b=7")

    assert response.status_code == 400
    assert f"{draft.identifier} has no revision 7; choose from the list." in response.content.decode()
