"""The reporter's say on upstream hand-offs: whether we may name them to the project we hand it to.

What the portal shows once a report was forwarded is tested with the hand-off, in
``disclosure/tests/test_handoff_views.py`` (the portal's tests may not import disclosure).
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.portal.tests.conftest import bad_link, link, visible_text
from bastion.reports.models import Report, TimelineKind
from bastion.reports.services.handoff_events import set_upstream_consent

pytestmark = pytest.mark.django_db


def consent_url(report: Report, *, bad: bool = False) -> str:
    return (bad_link if bad else link)(report, "upstream_consent")


def test_the_reporter_says_yes_and_it_is_recorded_on_the_timeline_and_audited(client, report):
    response = client.post(consent_url(report), {"upstream_consent": "yes"})

    assert response.status_code == 303
    assert response["Location"].endswith("#upstream")
    report.reporter.refresh_from_db()
    assert report.reporter.upstream_consent is True
    entry = report.timeline.get(kind=TimelineKind.REPORTER_UPDATED)
    assert entry.public
    assert entry.data == {"fields": ["upstream_consent"]}
    event = AuditEvent.objects.get(event=Event.REPORTER_UPDATED)
    assert event.data == {"fields": ["upstream_consent"], "upstream_consent": True}
    page = client.get(response["Location"])
    assert "we may give your name and handle to upstream projects" in visible_text(page)


def test_saying_no_after_yes_is_recorded_and_saying_it_again_changes_nothing(client, report):
    client.post(consent_url(report), {"upstream_consent": "yes"})
    client.post(consent_url(report), {"upstream_consent": "no"})
    client.post(consent_url(report), {"upstream_consent": "no"})

    report.reporter.refresh_from_db()
    assert report.reporter.upstream_consent is False
    assert AuditEvent.objects.filter(event=Event.REPORTER_UPDATED).count() == 2


def test_a_missing_answer_changes_nothing_and_says_what_to_do(client, report):
    response = client.post(consent_url(report), {"upstream_consent": "maybe"}, follow=True)

    assert "Choose yes or no" in visible_text(response)
    report.reporter.refresh_from_db()
    assert report.reporter.upstream_consent is None


def test_it_rejects_a_wrong_link(client, report):
    response = client.post(consent_url(report, bad=True), {"upstream_consent": "yes"})

    assert response.status_code == 404
    report.reporter.refresh_from_db()
    assert report.reporter.upstream_consent is None


def test_it_rejects_staff_answering_for_the_reporter(report, alice):
    with pytest.raises(PermissionDenied):
        set_upstream_consent(report=report, consent=True, actor=alice)

    report.reporter.refresh_from_db()
    assert report.reporter.upstream_consent is None
