"""rita's credit in the portal: how she will appear, choosing it, confirming it, and what is refused."""

from __future__ import annotations

import re

import pytest

from bastion.audit.events import ActorKind, Event
from bastion.audit.models import AuditEvent
from bastion.portal.tests.conftest import bad_link, link, make_report, visible_text
from bastion.reports.models import CreditPreference
from bastion.reports.models.credit import Appearance, Credit, CreditType
from bastion.reports.services import ShredReason, shred_report
from bastion.reports.services.credits import add_credit, correct_credit, ensure_reporter_credit
from bastion.test import rita

pytestmark = pytest.mark.django_db

LINK = "https://rita.example/about"


def choose(client, report, **fields):
    credit = ensure_reporter_credit(report)
    data = {"appearance": "name", "name": "", "handle": "", "link": "", "version": credit.version, **fields}
    return client.post(link(report, "credit"), data)


def test_the_page_shows_how_she_will_appear_and_asks_her_to_confirm(client, report):
    page = visible_text(client.get(link(report)))

    assert f"you will appear as: {rita.full_name} · Finder" in page
    assert "Not confirmed yet" in page
    assert "Confirm: credit me like this" in page


def test_she_chooses_a_handle_with_a_link_and_the_line_follows(client, report):
    response = choose(client, report, appearance="link", handle="rita", link=LINK)

    assert response.status_code == 303
    page = client.get(link(report)).content.decode()
    assert f'<a href="{LINK}" rel="nofollow noopener">rita</a>' in page
    assert "Not confirmed yet" in page
    row = AuditEvent.objects.get(event=Event.CREDIT_CHOSEN)
    assert row.actor_kind == ActorKind.REPORTER
    report.reporter.refresh_from_db()
    assert report.reporter.credit_preference == CreditPreference.HANDLE


def test_she_confirms_the_line_she_was_shown(client, report):
    credit = ensure_reporter_credit(report)

    response = client.post(link(report, "credit_confirm"), {"version": credit.version})

    assert response.status_code == 303
    credit.refresh_from_db()
    assert credit.confirmed_at is not None
    page = visible_text(client.get(link(report)))
    assert "Confirmed" in page
    assert "Your credit was confirmed as it will be published." in page


def test_a_link_that_is_not_https_is_refused_beside_the_field_and_her_text_is_kept(client, report):
    response = choose(client, report, appearance="link", name="Rita R.", link="http://rita.example")

    assert response.status_code == 400
    page = response.content.decode()
    assert "A link must be a full https:// address" in page
    assert 'value="http://rita.example"' in page
    assert 'value="Rita R."' in page
    assert ensure_reporter_credit(report).appearance == Appearance.NAME


def test_credit_by_name_without_a_name_says_what_is_missing(client, report):
    response = choose(client, report, appearance="name", name="")

    assert response.status_code == 400
    assert "To be credited by name, give the name to show." in response.content.decode()


def test_a_choice_made_after_staff_corrected_her_credit_is_a_stale_edit_that_keeps_her_text(
    client, report, alice
):
    credit = ensure_reporter_credit(report)
    shown = credit.version
    correct_credit(
        credit=credit,
        changes={"credit_type": "reporter"},
        reason="She reported it.",
        actor=alice,
        seen_version=shown,
    )

    response = choose(client, report, version=shown, appearance="handle", handle="rita-typed")

    assert response.status_code == 409
    page = response.content.decode()
    assert "Someone else changed this credit" in page
    assert 'value="rita-typed"' in page
    credit.refresh_from_db()
    assert credit.appearance == Appearance.NAME
    # The form now carries the current version: sending it again is a real choice.
    current = re.search(r'name="version" value="(\d+)"', page)
    assert current is not None
    assert int(current.group(1)) == credit.version


def test_confirming_a_line_she_never_saw_is_refused(client, report, alice):
    credit = ensure_reporter_credit(report)
    shown = credit.version
    correct_credit(
        credit=credit, changes={"name": "R. Researcher"}, reason="Typo.", actor=alice, seen_version=shown
    )

    response = client.post(link(report, "credit_confirm"), {"version": shown})

    assert response.status_code == 409
    assert "nothing was confirmed" in visible_text(response)
    credit.refresh_from_db()
    assert credit.confirmed_at is None


def test_the_page_lists_every_credit_type_staff_recorded_for_her(client, report, alice):
    add_credit(
        report=report,
        credit_type=CreditType.REMEDIATION_VERIFIER,
        person=None,
        appearance="",
        for_reporter=True,
        actor=alice,
    )

    assert "· Finder, Remediation verifier" in visible_text(client.get(link(report)))


def test_the_live_preview_is_a_static_script_and_the_page_has_no_inline_script(client, report):
    page = client.get(link(report)).content.decode()

    assert re.search(r'<script src="[^"]*portal/credit-preview\.js" defer></script>', page)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert 'data-preview="credit-preview"' in page


def test_it_rejects_a_credit_choice_with_a_wrong_token(client, report):
    response = client.post(bad_link(report, "credit"), {"appearance": "anonymous", "version": 1})

    assert response.status_code == 404
    assert "This link is not valid or has been replaced." in response.content.decode()
    assert not Credit.objects.filter(report=report, appearance=Appearance.ANONYMOUS).exists()


def test_it_rejects_a_confirmation_with_a_wrong_token(client, report):
    credit = ensure_reporter_credit(report)

    response = client.post(bad_link(report, "credit_confirm"), {"version": credit.version})

    assert response.status_code == 404
    credit.refresh_from_db()
    assert credit.confirmed_at is None


def test_the_credit_of_a_shredded_report_cannot_change(client, report, dave):
    credit = ensure_reporter_credit(report)
    shred_report(report=report, actor=dave, why=ShredReason.OPERATOR)

    response = client.post(link(report, "credit"), {"appearance": "anonymous", "version": credit.version})

    assert response.status_code == 410
    credit.refresh_from_db()
    assert credit.appearance == Appearance.NAME


def test_a_reporter_who_gave_no_name_starts_anonymous(client, db):
    report = make_report(reporter_name="", reporter_handle="", credit_preference="anonymous")

    page = visible_text(client.get(link(report)))

    assert "you will appear as: Anonymous · Finder" in page
