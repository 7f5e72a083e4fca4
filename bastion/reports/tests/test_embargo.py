"""Embargo services: setting, moving, lifting, parties and their acknowledgements, grants, break-glass."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.access import may_see, visible_reports
from bastion.reports.errors import ReportRejected
from bastion.reports.models import (
    AccessGrant,
    Embargo,
    EmbargoParty,
    GrantKind,
    Message,
    PartyKind,
    Report,
    TimelineKind,
    Visibility,
)
from bastion.reports.sealing import open_field
from bastion.reports.services import reporter_actor
from bastion.reports.services.embargo import (
    EmbargoState,
    NewParty,
    StaleEmbargo,
    acknowledge_embargo,
    add_party,
    break_glass,
    embargo_state,
    grant_access,
    lift_embargo,
    move_embargo,
    opened_embargo_reason,
    revoke_access,
    set_embargo,
)
from bastion.reports.tests.conftest import CANARY
from bastion.test import T0, mail_text, rita

END = T0 + timedelta(days=10)
REASON = f"Fix ships in 4.3; Rails coordinates the date {CANARY}"
GLASS = f"Customer escalation on the export outage {CANARY}"


@pytest.fixture
def report(submit, clock) -> Report:
    made = submit().report
    mail.outbox.clear()
    return made


@pytest.fixture
def embargo(report, alice, django_capture_on_commit_callbacks) -> Embargo:
    """alice embargoes rita's report until END; the mails it sends are cleared."""
    with django_capture_on_commit_callbacks(execute=True):
        made = set_embargo(report=report, ends_at=END, reason=REASON, actor=alice)
    mail.outbox.clear()
    return made


def state_of(report: Report) -> EmbargoState:
    state = embargo_state(report)
    assert state is not None
    return state


def party(embargo: Embargo, kind: PartyKind) -> EmbargoParty:
    return embargo.parties.get(kind=kind)


# --- Setting -------------------------------------------------------------------------------------


def test_setting_grants_the_setter_binds_the_reporter_and_hides_it_from_the_others(
    report, alice, bob, dave, charlie, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        embargo = set_embargo(report=report, ends_at=END, reason=REASON, actor=alice)

    assert embargo.ends_at == END
    assert embargo.version == 1
    assert embargo.set_by == alice
    assert AccessGrant.objects.get(report=report).user == alice
    assert [(p.kind, p.label) for p in embargo.parties.all()] == [(PartyKind.REPORTER, "Reporter")]
    assert may_see(alice, report)
    assert not any(may_see(user, report) for user in (bob, dave, charlie))
    assert report not in visible_reports(bob)
    entry = report.timeline.get(kind=TimelineKind.EMBARGO_SET)
    assert entry.public
    assert entry.data == {"ends_at": END.isoformat()}
    [sent] = mail.outbox
    assert sent.to == [rita.email]
    assert "11 June 2026, 09:00 UTC" in sent.subject
    assert "please acknowledge" in sent.subject
    assert "/portal/" in mail_text(sent)


def test_the_reason_is_sealed_and_kept_out_of_the_audit_trail_and_timeline(embargo, alice):
    assert CANARY.encode() not in bytes(embargo.reason)
    assert opened_embargo_reason(embargo=embargo, actor=alice) == REASON
    row = AuditEvent.objects.get(event=Event.EMBARGO_SET)
    assert CANARY not in str(row.data)
    assert all(CANARY not in str(entry.data) for entry in embargo.report.timeline.all())


def test_only_staff_who_may_see_the_report_read_the_reason(embargo, bob, charlie):
    for outsider in (bob, charlie, None):
        with pytest.raises(PermissionDenied):
            opened_embargo_reason(embargo=embargo, actor=outsider)


@pytest.mark.parametrize(
    ("ends_at", "code"),
    [
        (datetime(2026, 6, 11, 9, 0), "naive"),
        (T0 - timedelta(minutes=1), "past"),
        (T0, "past"),
        (T0 + timedelta(days=731), "too_far"),
    ],
)
def test_it_refuses_an_end_that_is_not_a_future_instant(report, alice, ends_at, code):
    with pytest.raises(ReportRejected) as refused:
        set_embargo(report=report, ends_at=ends_at, reason=REASON, actor=alice)

    assert refused.value.field == "ends_at"
    assert refused.value.reason == code
    assert not Embargo.objects.exists()


def test_an_end_given_in_another_zone_is_stored_as_the_same_utc_instant(report, alice):
    in_tokyo = END.astimezone(ZoneInfo("Asia/Tokyo"))

    embargo = set_embargo(report=report, ends_at=in_tokyo, reason=REASON, actor=alice)

    embargo.refresh_from_db()
    assert embargo.ends_at == END
    assert embargo.ends_at.utcoffset() == timedelta(0)


def test_it_refuses_an_empty_reason(report, alice):
    with pytest.raises(ReportRejected) as refused:
        set_embargo(report=report, ends_at=END, reason="  \n ", actor=alice)

    assert refused.value.field == "reason"


def test_viewers_and_the_reporter_cannot_set_one(report, charlie):
    for actor in (charlie, reporter_actor(report), None):
        with pytest.raises(PermissionDenied):
            set_embargo(report=report, ends_at=END, reason=REASON, actor=actor)
    assert not Embargo.objects.exists()


def test_a_running_embargo_is_moved_not_set_again(embargo, alice):
    with pytest.raises(ReportRejected) as refused:
        set_embargo(report=embargo.report, ends_at=END + timedelta(days=1), reason=REASON, actor=alice)

    assert "already under embargo until 11 June 2026, 09:00 UTC" in refused.value.messages[0]


def test_staff_not_granted_cannot_set_one_on_a_report_they_cannot_see(embargo, bob):
    with pytest.raises(PermissionDenied):
        set_embargo(report=embargo.report, ends_at=END, reason=REASON, actor=bob)


def test_a_lifted_embargo_is_armed_anew_with_every_acknowledgement_cleared(embargo, alice, bob, clock):
    acknowledge_embargo(party=party(embargo, PartyKind.REPORTER), actor=reporter_actor(embargo.report))
    lift_embargo(embargo=embargo, actor=alice, reason="Fixed early, coordinated with all")

    again = set_embargo(report=embargo.report, ends_at=END + timedelta(days=5), reason=REASON, actor=bob)

    assert again.pk == embargo.pk
    assert again.version == 3
    assert again.lifted_at is None
    assert again.set_by == bob
    assert may_see(bob, again.report)
    assert not party(again, PartyKind.REPORTER).is_acknowledged
    assert again.parties.filter(kind=PartyKind.REPORTER).count() == 1


# --- Moving and lifting --------------------------------------------------------------------------


def test_moving_bumps_the_version_keeps_why_as_a_note_and_makes_acknowledgements_stale(
    embargo, alice, django_capture_on_commit_callbacks
):
    mine = party(embargo, PartyKind.REPORTER)
    acknowledge_embargo(party=mine, actor=reporter_actor(embargo.report), seen_version=1)
    assert party(embargo, PartyKind.REPORTER).is_acknowledged
    later = END + timedelta(days=7)

    with django_capture_on_commit_callbacks(execute=True):
        move_embargo(
            embargo=embargo, ends_at=later, reason=f"Rails needs a week {CANARY}", actor=alice, seen_version=1
        )

    embargo.refresh_from_db()
    assert (embargo.ends_at, embargo.version) == (later, 2)
    assert not party(embargo, PartyKind.REPORTER).is_acknowledged
    assert state_of(embargo.report).unacknowledged[0].party == mine
    note = Message.objects.get(report=embargo.report, visibility=Visibility.INTERNAL)
    body = open_field(note, "body", key=embargo.report.data_key_plain()) or ""
    assert "11 June 2026, 09:00 UTC to 18 June 2026, 09:00 UTC" in body
    assert CANARY in body
    entry = embargo.report.timeline.get(kind=TimelineKind.EMBARGO_CHANGED)
    assert entry.public
    assert entry.data["ends_at"] == later.isoformat()
    assert "Embargo moved" in mail.outbox[-1].subject


def test_two_staff_moving_at_once_the_second_is_told_and_nothing_is_overwritten(embargo, alice, dave):
    grant_access(report=embargo.report, user=dave, actor=alice)
    seen_by_both = embargo.version
    move_embargo(
        embargo=embargo,
        ends_at=END + timedelta(days=1),
        reason="A day more",
        actor=alice,
        seen_version=seen_by_both,
    )

    with pytest.raises(StaleEmbargo) as refused:
        move_embargo(
            embargo=Embargo.objects.get(pk=embargo.pk),
            ends_at=END + timedelta(days=3),
            reason="Three days more",
            actor=dave,
            seen_version=seen_by_both,
        )

    assert "Nothing was saved" in refused.value.messages[0]
    embargo.refresh_from_db()
    assert embargo.ends_at == END + timedelta(days=1)
    assert embargo.version == 2


def test_only_granted_staff_or_admins_who_see_it_may_move_it(embargo, alice, bob, dave, charlie, clock):
    for outsider in (bob, dave, charlie):
        with pytest.raises(PermissionDenied):
            move_embargo(
                embargo=embargo, ends_at=END + timedelta(days=1), reason="x", actor=outsider, seen_version=1
            )
    break_glass(report=embargo.report, actor=bob, reason=GLASS)
    with pytest.raises(PermissionDenied, match="Only staff granted on this report"):
        move_embargo(embargo=embargo, ends_at=END + timedelta(days=1), reason="x", actor=bob, seen_version=1)
    break_glass(report=embargo.report, actor=dave, reason=GLASS)

    move_embargo(
        embargo=embargo, ends_at=END + timedelta(days=1), reason="Lead decided", actor=dave, seen_version=1
    )

    assert embargo.version == 2


def test_an_ended_embargo_cannot_be_moved(embargo, alice, clock):
    clock.move_to(END)

    with pytest.raises(ReportRejected, match="ended at 11 June 2026, 09:00 UTC"):
        move_embargo(
            embargo=embargo, ends_at=END + timedelta(days=1), reason="Too late", actor=alice, seen_version=1
        )


def test_lifting_shows_the_report_to_everyone_again_and_tells_the_parties(
    embargo, alice, bob, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lift_embargo(embargo=embargo, actor=alice, reason="Fix shipped early")

    embargo.refresh_from_db()
    assert embargo.lifted_by == alice
    assert not embargo.is_running()
    assert may_see(bob, embargo.report)
    assert embargo.report.timeline.get(kind=TimelineKind.EMBARGO_LIFTED).public
    assert AuditEvent.objects.filter(event=Event.EMBARGO_LIFTED).count() == 1
    assert "Embargo lifted" in mail.outbox[-1].subject
    with pytest.raises(ReportRejected, match="was lifted"):
        lift_embargo(embargo=embargo, actor=alice, reason="Again")


# --- Parties -------------------------------------------------------------------------------------


def test_an_upstream_party_is_added_once_with_a_sealed_address_and_mailed(
    embargo, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upstream = add_party(
            embargo=embargo,
            kind=PartyKind.UPSTREAM,
            label="Rails security team",
            email="Uma@Upstream.example",
            actor=alice,
        )
    again = add_party(embargo=embargo, kind="upstream", label="rails security team", email=None, actor=alice)

    assert again.pk == upstream.pk
    assert upstream.email is not None
    assert b"upstream.example" not in bytes(upstream.email)
    assert open_field(upstream, "email", key=embargo.report.data_key_plain()) == "uma@upstream.example"
    [sent] = mail.outbox
    assert sent.to == ["uma@upstream.example"]
    assert sent.extra_headers["Reply-To"] == alice.email
    assert "Rails security team" in mail_text(sent)
    assert CANARY not in mail_text(sent)
    assert AuditEvent.objects.filter(event=Event.EMBARGO_PARTY_ADDED).count() == 1


@pytest.mark.parametrize(
    ("kind", "label", "email", "field"),
    [
        ("reporter", "Rita", None, "kind"),
        ("vendor", "Someone", None, "kind"),
        ("upstream", "  ", None, "label"),
        ("upstream", "Rails", "not an address", "email"),
    ],
)
def test_it_refuses_a_party_it_cannot_use(embargo, alice, kind, label, email, field):
    with pytest.raises(ReportRejected) as refused:
        add_party(embargo=embargo, kind=kind, label=label, email=email, actor=alice)

    assert refused.value.field == field
    assert embargo.parties.count() == 1


def test_the_reporter_acknowledges_her_own_party_and_sees_it_on_her_timeline(embargo):
    mine = party(embargo, PartyKind.REPORTER)

    acknowledge_embargo(party=mine, actor=reporter_actor(embargo.report), seen_version=1)
    acknowledge_embargo(party=mine, actor=reporter_actor(embargo.report), seen_version=1)  # changes nothing

    mine.refresh_from_db()
    assert mine.acknowledged_ends_at == END
    assert mine.is_acknowledged
    entry = embargo.report.timeline.get(kind=TimelineKind.EMBARGO_ACKNOWLEDGED)
    assert entry.public
    assert entry.data["party"] == "You"
    assert AuditEvent.objects.filter(event=Event.EMBARGO_ACKNOWLEDGED).count() == 1
    assert state_of(embargo.report).unacknowledged == []


def test_the_reporter_cannot_acknowledge_for_an_upstream(embargo, alice):
    upstream = add_party(embargo=embargo, kind="upstream", label="Rails", email=None, actor=alice)

    with pytest.raises(PermissionDenied):
        acknowledge_embargo(party=upstream, actor=reporter_actor(embargo.report))


def test_staff_record_an_upstream_and_a_team_acknowledgement_the_team_one_staff_only(embargo, alice):
    upstream = add_party(embargo=embargo, kind="upstream", label="Rails", email=None, actor=alice)
    team = add_party(embargo=embargo, kind="internal", label="Billing team", email=None, actor=alice)

    acknowledge_embargo(party=upstream, actor=alice)
    acknowledge_embargo(party=team, actor=alice)

    entries = embargo.report.timeline.filter(kind=TimelineKind.EMBARGO_ACKNOWLEDGED)
    assert [(e.data["party"], e.public) for e in entries] == [("Rails", True), ("Billing team", False)]
    assert [p.party.label for p in state_of(embargo.report).unacknowledged] == ["Reporter"]


def test_an_acknowledgement_of_an_end_that_moved_since_is_refused(embargo, alice):
    move_embargo(
        embargo=embargo, ends_at=END + timedelta(days=2), reason="Two more days", actor=alice, seen_version=1
    )

    with pytest.raises(StaleEmbargo):
        acknowledge_embargo(
            party=party(embargo, PartyKind.REPORTER), actor=reporter_actor(embargo.report), seen_version=1
        )

    assert not party(embargo, PartyKind.REPORTER).is_acknowledged


# --- Grants --------------------------------------------------------------------------------------


def test_a_granted_triager_lets_a_teammate_in_and_out(embargo, alice, bob):
    grant_access(report=embargo.report, user=bob, actor=alice)
    assert may_see(bob, embargo.report)

    assert revoke_access(report=embargo.report, user=bob, actor=alice) == 1

    assert not may_see(bob, embargo.report)
    events = AuditEvent.objects.filter(event__in=[Event.ACCESS_GRANTED, Event.ACCESS_REVOKED])
    assert [e.event for e in events.order_by("id")] == [Event.ACCESS_GRANTED, Event.ACCESS_REVOKED]


def test_viewers_can_never_be_granted(embargo, alice, charlie):
    with pytest.raises(ReportRejected, match="viewers never see embargoed reports"):
        grant_access(report=embargo.report, user=charlie, actor=alice)

    assert not may_see(charlie, embargo.report)


def test_staff_not_granted_cannot_grant_themselves_or_others(embargo, bob, dave, charlie):
    with pytest.raises(PermissionDenied):
        grant_access(report=embargo.report, user=bob, actor=bob)
    with pytest.raises(PermissionDenied):
        grant_access(report=embargo.report, user=charlie, actor=charlie)
    # An admin may let others in, but takes access themself only through break-glass.
    with pytest.raises(PermissionDenied, match="Break the glass"):
        grant_access(report=embargo.report, user=dave, actor=dave)
    grant_access(report=embargo.report, user=bob, actor=dave)
    assert may_see(bob, embargo.report)
    assert not may_see(dave, embargo.report)


def test_a_break_glass_holder_may_look_but_not_let_others_in(embargo, bob, dave):
    break_glass(report=embargo.report, actor=bob, reason=GLASS)

    with pytest.raises(PermissionDenied, match="not let others in"):
        grant_access(report=embargo.report, user=dave, actor=bob)


def test_the_last_grant_on_a_running_embargo_cannot_be_revoked(embargo, alice, dave):
    with pytest.raises(ReportRejected, match="last person granted"):
        revoke_access(report=embargo.report, user=alice, actor=dave)
    with pytest.raises(ReportRejected, match="holds no access"):
        revoke_access(report=embargo.report, user=dave, actor=alice)

    assert may_see(alice, embargo.report)


# --- Break-glass ---------------------------------------------------------------------------------


def test_break_glass_opens_the_report_for_a_while_audited_and_told_without_the_reason(
    embargo, alice, bob, dave, clock, settings, django_capture_on_commit_callbacks
):
    settings.BREAK_GLASS_HOURS = 4
    with django_capture_on_commit_callbacks(execute=True):
        grant = break_glass(report=embargo.report, actor=bob, reason=GLASS)

    assert grant.kind == GrantKind.BREAK_GLASS
    assert grant.expires_at == T0 + timedelta(hours=4)
    assert grant.reason is not None
    assert CANARY.encode() not in bytes(grant.reason)
    row = AuditEvent.objects.get(event=Event.BREAK_GLASS)
    assert row.actor_id == bob.pk
    assert CANARY not in str(row.data)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([alice.email, dave.email])
    for sent in mail.outbox:
        assert "Bob Triager" in sent.subject
        assert embargo.report.tracking_id in sent.subject
        assert CANARY not in sent.subject
        assert CANARY not in sent.body
        assert "export outage" not in sent.body
    assert may_see(bob, embargo.report)

    clock.move_to(T0 + timedelta(hours=4) - timedelta(seconds=1))
    assert may_see(bob, embargo.report)
    clock.move_to(T0 + timedelta(hours=4))
    assert not may_see(bob, embargo.report)


@pytest.mark.parametrize("reason", ["", "because", "   short   "])
def test_break_glass_needs_a_real_reason(embargo, bob, reason):
    with pytest.raises(ReportRejected) as refused:
        break_glass(report=embargo.report, actor=bob, reason=reason)

    assert refused.value.field == "reason"
    assert not AccessGrant.objects.filter(kind=GrantKind.BREAK_GLASS).exists()


def test_break_glass_is_refused_to_viewers_to_those_who_see_it_and_on_reports_not_embargoed(
    embargo, report, alice, bob, charlie, clock
):
    with pytest.raises(PermissionDenied):
        break_glass(report=report, actor=charlie, reason=GLASS)
    with pytest.raises(ReportRejected, match="already see"):
        break_glass(report=report, actor=alice, reason=GLASS)
    clock.move_to(END)
    with pytest.raises(ReportRejected, match="not under embargo"):
        break_glass(report=report, actor=bob, reason=GLASS)
    assert not AuditEvent.objects.filter(event=Event.BREAK_GLASS).exists()


def test_the_state_names_running_ended_and_lifted(embargo, alice, clock):
    assert state_of(embargo.report).state == "running"
    clock.move_to(END)
    ended = state_of(embargo.report)
    assert ended.state == "ended"
    assert ended.unacknowledged == []
    clock.move_to(T0)
    lift_embargo(embargo=embargo, actor=alice, reason="Done")
    assert state_of(embargo.report).state == "lifted"


def test_a_report_without_an_embargo_has_no_state(report):
    assert embargo_state(report) is None


def test_set_with_parties_binds_them_from_the_start(report, alice):
    embargo = set_embargo(
        report=report,
        ends_at=END,
        reason=REASON,
        actor=alice,
        parties=[NewParty(kind="upstream", label="Ruby core", email="security@ruby.example")],
    )

    assert sorted(embargo.parties.values_list("kind", flat=True)) == ["reporter", "upstream"]
