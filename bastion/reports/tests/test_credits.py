"""The credit ledger: the reporter's choice and confirmation, staff credits, corrections with history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.errors import ReportRejected
from bastion.reports.models import Embargo, TimelineEntry, TimelineKind
from bastion.reports.models.credit import Appearance, Credit, CreditChange, CreditType
from bastion.reports.sealing import seal_field
from bastion.reports.services import reporter_actor
from bastion.reports.services.credits import (
    CreditPerson,
    StaleCredit,
    add_credit,
    choose_credit,
    confirm_credit,
    correct_credit,
    credit_history,
    ensure_reporter_credit,
    mark_credits_published,
    published_thanks,
    report_credits,
    reporter_credit,
    withdraw_credit,
)
from bastion.test import rita

pytestmark = pytest.mark.django_db

LINK = "https://rita.example/about"
SECRET_NAME = "Rita CANARY-credit-7d1e Researcher"


@pytest.fixture
def report(submit):
    return submit().report


def test_the_reporters_credit_starts_from_what_she_gave_and_is_not_confirmed(report):
    credit = ensure_reporter_credit(report)

    assert (credit.credit_type, credit.is_reporter, credit.appearance) == (
        CreditType.FINDER,
        True,
        Appearance.NAME,
    )
    assert credit.receipt == report.receipt
    assert credit.confirmed_at is None
    shown = reporter_credit(report=report, actor=reporter_actor(report))
    assert (shown.public.name, shown.person.handle, shown.types) == (rita.full_name, "rita", ("Finder",))
    assert ensure_reporter_credit(report).pk == credit.pk  # made once
    assert CreditChange.objects.get(credit=credit).action == "created"


def test_she_chooses_a_handle_with_a_link_and_the_public_line_follows(report):
    credit = ensure_reporter_credit(report)

    choose_credit(credit=credit, appearance="link", handle="rita", link=LINK, actor=reporter_actor(report))

    shown = reporter_credit(report=report, actor=reporter_actor(report))
    assert (shown.public.name, shown.public.link, shown.public.credit_type) == ("rita", LINK, "finder")
    assert AuditEvent.objects.filter(event=Event.CREDIT_CHOSEN).count() == 1
    entry = TimelineEntry.objects.get(report=report, kind=TimelineKind.CREDIT_UPDATED)
    assert (entry.public, entry.data["confirmed"]) == (True, False)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"appearance": "link", "name": "Rita", "link": "http://rita.example"},
            "link",
            "full https:// address",
        ),
        (
            {"appearance": "link", "name": "Rita", "link": "javascript:alert(1)"},
            "link",
            "full https:// address",
        ),
        ({"appearance": "link", "name": "Rita"}, "link", "give the https:// address"),
        ({"appearance": "link", "link": LINK}, "name", "needs a name or a handle"),
        ({"appearance": "name"}, "name", "give the name to show"),
        ({"appearance": "handle", "name": "Rita"}, "handle", "give the handle to show"),
        ({"appearance": "famous"}, "appearance", "Choose how to appear"),
    ],
)
def test_it_refuses_a_choice_that_lacks_what_it_shows_and_changes_nothing(report, fields, field, message):
    credit = ensure_reporter_credit(report)

    with pytest.raises(ReportRejected) as refused:
        choose_credit(credit=credit, actor=reporter_actor(report), **fields)

    assert message in refused.value.message_dict[field][0]
    credit.refresh_from_db()
    assert (credit.appearance, credit.version) == (Appearance.NAME, 1)
    assert not AuditEvent.objects.filter(event=Event.CREDIT_CHOSEN).exists()


def test_confirming_records_the_moment_and_any_later_change_unconfirms(report):
    credit = ensure_reporter_credit(report)
    confirm_credit(credit=credit, actor=reporter_actor(report), seen_version=credit.version)
    assert credit.confirmed_at is not None

    choose_credit(credit=credit, appearance="anonymous", actor=reporter_actor(report))

    credit.refresh_from_db()
    assert credit.confirmed_at is None
    assert [c.action for c in credit.changes.all()] == ["created", "confirmed", "chosen"]
    entries = TimelineEntry.objects.filter(report=report, kind=TimelineKind.CREDIT_UPDATED, public=True)
    assert [e.data["confirmed"] for e in entries] == [True, False]


def test_choosing_the_same_again_changes_nothing(report):
    credit = ensure_reporter_credit(report)
    confirm_credit(credit=credit, actor=reporter_actor(report))

    choose_credit(
        credit=credit, appearance="name", name=rita.full_name, handle="rita", actor=reporter_actor(report)
    )

    credit.refresh_from_db()
    assert credit.confirmed_at is not None
    assert not AuditEvent.objects.filter(event=Event.CREDIT_CHOSEN).exists()


def test_it_refuses_to_confirm_a_line_staff_changed_since_it_was_shown(report, alice):
    credit = ensure_reporter_credit(report)
    shown = credit.version
    correct_credit(
        credit=credit, changes={"name": "R. R."}, reason="Spelling.", actor=alice, seen_version=shown
    )

    with pytest.raises(StaleCredit):
        confirm_credit(credit=credit, actor=reporter_actor(report), seen_version=shown)

    credit.refresh_from_db()
    assert credit.confirmed_at is None


def test_only_the_reporter_chooses_and_confirms_her_credit(report, alice, submit):
    credit = ensure_reporter_credit(report)
    other = submit(title="Another report").report

    with pytest.raises(PermissionDenied):
        choose_credit(credit=credit, appearance="anonymous", actor=alice)
    with pytest.raises(PermissionDenied):
        confirm_credit(credit=credit, actor=reporter_actor(other))


def test_staff_add_a_confirmed_credit_for_an_analyst(report, alice):
    person = CreditPerson(name="Ana Lyst", link="https://ana.example")

    credit = add_credit(report=report, credit_type="analyst", person=person, appearance="link", actor=alice)

    assert (credit.is_reporter, credit.credit_type) == (False, CreditType.ANALYST)
    assert credit.confirmed_at is not None
    row = AuditEvent.objects.get(event=Event.CREDIT_ADDED, actor_id=alice.pk)
    assert row.data["type"] == "analyst"
    assert "Ana" not in str(row.data)
    entry = TimelineEntry.objects.get(report=report, kind=TimelineKind.CREDIT_UPDATED)
    assert entry.public is False  # the reporter's timeline is about her own credit


def test_it_refuses_an_unknown_credit_type(report, alice):
    with pytest.raises(ReportRejected) as refused:
        add_credit(
            report=report, credit_type="hero", person=CreditPerson(name="X"), appearance="name", actor=alice
        )

    assert "Choose a credit type" in refused.value.message_dict["credit_type"][0]


def test_another_type_for_the_reporter_follows_her_choice(report, alice):
    own = ensure_reporter_credit(report)
    extra = add_credit(
        report=report,
        credit_type="remediation verifier",
        person=None,
        appearance="",
        for_reporter=True,
        actor=alice,
    )
    assert extra.confirmed_at is None

    choose_credit(credit=own, appearance="handle", handle="rita", actor=reporter_actor(report))
    confirm_credit(credit=own, actor=reporter_actor(report))

    extra.refresh_from_db()
    assert (extra.appearance, extra.confirmed_at is not None) == (Appearance.HANDLE, True)
    assert reporter_credit(report=report, actor=reporter_actor(report)).types == (
        "Finder",
        "Remediation verifier",
    )


def test_a_correction_needs_a_reason_and_keeps_its_history(report, alice):
    credit = ensure_reporter_credit(report)
    with pytest.raises(ReportRejected) as refused:
        correct_credit(
            credit=credit, changes={"credit_type": "reporter"}, reason=" ", actor=alice, seen_version=1
        )
    assert "Say why" in refused.value.message_dict["reason"][0]

    correct_credit(
        credit=credit,
        changes={"credit_type": "reporter", "handle": "rita-r"},
        reason="Disputed: she reported it, bob found it.",
        actor=alice,
        seen_version=credit.version,
    )

    history = credit_history(credit, alice)
    last = history[-1]
    assert (last.action, last.actor, last.reason) == (
        "corrected",
        alice.email,
        "Disputed: she reported it, bob found it.",
    )
    assert (last.before["credit_type"], last.after["credit_type"]) == ("finder", "reporter")
    assert (last.before["handle"], last.after["handle"]) == ("rita", "rita-r")
    viewed = AuditEvent.objects.filter(event=Event.REPORT_VIEWED, actor_id=alice.pk).last()
    assert viewed is not None
    assert viewed.data["scope"] == "credit_history"


def test_a_stale_correction_is_refused_and_changes_nothing(report, alice, bob):
    credit = ensure_reporter_credit(report)
    seen = credit.version
    correct_credit(
        credit=credit, changes={"name": "Rita R."}, reason="Her wish.", actor=alice, seen_version=seen
    )

    with pytest.raises(StaleCredit) as refused:
        correct_credit(
            credit=Credit.objects.get(pk=credit.pk),
            changes={"name": "Someone Else"},
            reason="Mine.",
            actor=bob,
            seen_version=seen,
        )

    assert "Someone else changed this credit" in refused.value.messages[0]
    assert reporter_credit(report=report, actor=reporter_actor(report)).person.name == "Rita R."
    assert AuditEvent.objects.filter(event=Event.CREDIT_CORRECTED).count() == 1


def test_a_correction_of_her_credit_asks_her_to_confirm_again(report, alice):
    credit = ensure_reporter_credit(report)
    confirm_credit(credit=credit, actor=reporter_actor(report))

    correct_credit(
        credit=credit,
        changes={"appearance": "handle"},
        reason="Agreed by mail.",
        actor=alice,
        seen_version=credit.version,
    )

    credit.refresh_from_db()
    assert credit.confirmed_at is None


def test_correcting_a_published_credit_updates_its_public_form_and_asks_for_republication(report, alice):
    credit = ensure_reporter_credit(report)
    confirm_credit(credit=credit, actor=reporter_actor(report))
    mark_credits_published(reports=[report], at=timezone.now(), actor=alice)
    credit.refresh_from_db()
    assert credit.published_name == rita.full_name

    correct_credit(
        credit=credit,
        changes={"appearance": "anonymous"},
        reason="She asked us.",
        actor=alice,
        seen_version=credit.version,
    )

    credit.refresh_from_db()
    assert (credit.published_name, credit.published_at is not None) == ("", True)
    assert [c.action for c in credit.changes.all()][-2:] == ["corrected", "republish"]


def test_a_correction_that_would_name_her_waits_for_her_to_confirm_it(report, alice):
    credit = choose_credit(
        credit=ensure_reporter_credit(report), appearance="anonymous", actor=reporter_actor(report)
    )
    confirm_credit(credit=credit, actor=reporter_actor(report))
    mark_credits_published(reports=[report], at=timezone.now(), actor=alice)
    credit.refresh_from_db()

    correct_credit(
        credit=credit,
        changes={"appearance": "name", "name": "Typed By Staff"},
        reason="Thought she wanted her name.",
        actor=alice,
        seen_version=credit.version,
    )

    credit.refresh_from_db()
    assert (credit.published_name, credit.confirmed_at) == ("", None)
    assert "Typed By Staff" not in [line.name for line in published_thanks()]


def test_a_withdrawn_credit_is_kept_with_its_reason_and_never_made_again(report, alice):
    credit = ensure_reporter_credit(report)

    withdraw_credit(
        credit=credit, reason="Not a security issue after all.", actor=alice, seen_version=credit.version
    )

    assert ensure_reporter_credit(report).pk == credit.pk
    assert ensure_reporter_credit(report).withdrawn_at is not None
    assert credit_history(credit, alice)[-1].reason == "Not a security issue after all."
    with pytest.raises(ReportRejected):
        choose_credit(credit=credit, appearance="anonymous", actor=reporter_actor(report))
    assert AuditEvent.objects.filter(event=Event.CREDIT_WITHDRAWN).count() == 1


def test_names_stay_sealed_outside_the_ledger(report, alice):
    credit = ensure_reporter_credit(report)
    choose_credit(credit=credit, appearance="name", name=SECRET_NAME, actor=reporter_actor(report))
    correct_credit(
        credit=credit,
        changes={"handle": "h"},
        reason="A reason to keep.",
        actor=alice,
        seen_version=credit.version,
    )

    stored = Credit.objects.get(pk=credit.pk)
    assert SECRET_NAME.encode() not in bytes(stored.person)
    for change in CreditChange.objects.filter(credit=credit):
        for column in (change.before, change.after, change.reason):
            assert column is None or b"CANARY" not in bytes(column)
    for row in AuditEvent.objects.all():
        assert "CANARY" not in str(row.data)
        assert "A reason to keep" not in str(row.data)
    for entry in TimelineEntry.objects.filter(report=report):
        assert "CANARY" not in str(entry.data)


def test_staff_who_may_not_see_an_embargoed_report_cannot_touch_its_credits(report, alice, bob):
    key = report.data_key_plain()
    embargo = Embargo(report=report, ends_at=timezone.now() + timedelta(days=7), set_by=alice)
    embargo.reason = seal_field(embargo, "reason", "Upstream fix pending.", key=key)
    embargo.save()
    credit = ensure_reporter_credit(report)

    with pytest.raises(PermissionDenied):
        report_credits(report=report, actor=bob)
    with pytest.raises(PermissionDenied):
        correct_credit(
            credit=credit, changes={"name": "X"}, reason="R.", actor=bob, seen_version=credit.version
        )
    with pytest.raises(PermissionDenied):
        credit_history(credit, bob)


def test_viewers_cannot_read_or_add_credits(report, charlie):
    with pytest.raises(PermissionDenied):
        report_credits(report=report, actor=charlie)
    with pytest.raises(PermissionDenied):
        add_credit(
            report=report,
            credit_type="analyst",
            person=CreditPerson(name="C"),
            appearance="name",
            actor=charlie,
        )
