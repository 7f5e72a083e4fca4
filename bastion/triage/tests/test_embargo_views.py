"""The embargo panel, its forms and actions, the break-glass page, and embargoes in the inbox."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.access import may_see
from bastion.reports.identifiers import new_tracking_id
from bastion.reports.models import AccessGrant, Embargo, GrantKind, PartyKind
from bastion.reports.services import reporter_actor, request_deletion
from bastion.reports.services.duplicates import mark_duplicate
from bastion.reports.services.embargo import break_glass, grant_access, set_embargo
from bastion.reports.tests.conftest import CANARY
from bastion.triage.tests.conftest import END, REASON, report_url

GLASS = "Customer escalation about the export outage"


def without_tokens(response) -> str:
    """The page with its CSRF tokens blanked: they differ per response, whatever the page says."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


def panel(html: str) -> str:
    start = html.index('id="embargo"')
    return html[start : html.index("</section>", start)]


def test_the_panel_shows_the_end_in_the_viewers_zone_and_in_utc(client_as, alice, embargoed_report):
    alice.time_zone = "America/New_York"
    alice.save()

    shown = panel(client_as(alice).get(report_url("report", embargoed_report)).content.decode())

    assert "11 June 2026, 05:00 EDT (America/New_York)" in shown
    assert "11 June 2026, 09:00 UTC" in shown
    assert REASON in shown
    assert "1 not acknowledged" in shown
    assert "Reporter" in shown
    assert "Alice Triager" in shown
    assert "Granted" in shown
    assert 'id="embargo-move-form"' in shown
    assert 'id="embargo-lift-form"' in shown


def test_a_report_without_an_embargo_offers_to_set_one(client_as, bob, fresh_report):
    shown = panel(client_as(bob).get(report_url("report", fresh_report)).content.decode())

    assert "No embargo" in shown
    assert 'id="embargo-set-form"' in shown


def test_the_form_reads_the_end_in_the_zone_it_names(client_as, alice, fresh_report):
    data = {"ends_at": "2026-06-11T11:00", "time_zone": "Europe/Paris", "reason": REASON}

    response = client_as(alice).post(report_url("embargo_set", fresh_report), data)

    assert response.status_code == 303
    assert response["Location"].endswith("#embargo")
    assert Embargo.objects.get(report=fresh_report).ends_at == END


@pytest.mark.parametrize(
    ("ends_at", "zone", "says"),
    [
        ("2027-03-28T02:30", "Europe/Paris", "does not exist in Europe/Paris"),
        ("2026-10-25T02:30", "Europe/Paris", "happens twice in Europe/Paris"),
        ("2026-05-31T09:00", "UTC", "must be in the future"),
        ("next tuesday", "UTC", "Give a date and time"),
        ("9999-12-31T23:00", "America/Los_Angeles", "Give a year between"),
    ],
)
def test_an_end_that_cannot_be_used_is_refused_with_the_reason_kept(
    client_as, alice, fresh_report, ends_at, zone, says
):
    data = {"ends_at": ends_at, "time_zone": zone, "reason": f"Kept reason {CANARY}"}

    response = client_as(alice).post(report_url("embargo_set", fresh_report), data)

    assert response.status_code == 400
    shown = panel(response.content.decode())
    assert says in shown
    assert f"Kept reason {CANARY}" in shown
    assert not Embargo.objects.exists()


def test_a_move_made_from_a_stale_page_is_a_409_and_saves_nothing(client_as, alice, embargoed_report):
    client = client_as(alice)
    moved = {"ends_at": "2026-06-12T09:00", "time_zone": "UTC", "reason": "One day more", "version": "1"}
    assert client.post(report_url("embargo_move", embargoed_report), moved).status_code == 303

    stale = {**moved, "ends_at": "2026-06-20T09:00", "reason": "From the old page"}
    response = client.post(report_url("embargo_move", embargoed_report), stale)

    assert response.status_code == 409
    assert "Nothing was saved" in panel(response.content.decode())
    assert Embargo.objects.get(report=embargoed_report).ends_at == END + timedelta(days=1)


def test_staff_add_a_party_record_its_acknowledgement_grant_revoke_and_lift(
    client_as, alice, bob, embargoed_report
):
    client = client_as(alice)

    party = {"kind": "upstream", "label": "Rails security team", "email": ""}
    assert client.post(report_url("embargo_party_add", embargoed_report), party).status_code == 303
    upstream = Embargo.objects.get(report=embargoed_report).parties.get(kind=PartyKind.UPSTREAM)
    ack = client.post(report_url("embargo_acknowledge", embargoed_report, upstream.uid), {"version": "1"})
    assert ack.status_code == 303
    upstream.refresh_from_db()
    assert upstream.is_acknowledged

    assert client.post(report_url("embargo_grant", embargoed_report), {"user": bob.pk}).status_code == 303
    assert may_see(bob, embargoed_report)
    assert client.post(report_url("embargo_revoke", embargoed_report), {"user": bob.pk}).status_code == 303
    assert not may_see(bob, embargoed_report)

    lifted = client.post(
        report_url("embargo_lift", embargoed_report), {"reason": "Fix shipped", "version": "1"}
    )
    assert lifted.status_code == 303
    assert may_see(bob, embargoed_report)


def test_a_bad_party_address_comes_back_beside_its_field(client_as, alice, embargoed_report):
    data = {"kind": "upstream", "label": "Rails security team", "email": "uma at upstream"}

    response = client_as(alice).post(report_url("embargo_party_add", embargoed_report), data)

    assert response.status_code == 400
    shown = panel(response.content.decode())
    assert "is not an email address" in shown
    assert 'value="Rails security team"' in shown


ACTIONS = {
    "embargo_set": {"ends_at": "2026-06-20T09:00", "time_zone": "UTC", "reason": "Mine now"},
    "embargo_move": {"ends_at": "2026-06-20T09:00", "time_zone": "UTC", "reason": "Mine now", "version": "1"},
    "embargo_lift": {"reason": "Mine now", "version": "1"},
    "embargo_party_add": {"kind": "upstream", "label": "Rails", "email": ""},
    "embargo_grant": {"user": "0"},
    "embargo_revoke": {"user": "0"},
}


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_it_rejects_staff_not_granted_with_a_404_viewers_with_a_403_and_visitors_with_sign_in(
    client, client_as, alice, bob, charlie, dave, embargoed_report, name
):
    data = {**ACTIONS[name]}
    if "user" in data:
        data["user"] = str(bob.pk)

    assert client_as(bob).post(report_url(name, embargoed_report), data).status_code == 404
    assert client_as(dave).post(report_url(name, embargoed_report), data).status_code == 404
    assert client_as(charlie).post(report_url(name, embargoed_report), data).status_code == 403
    assert client.post(report_url(name, embargoed_report), data).status_code == 302
    embargo = Embargo.objects.get(report=embargoed_report)
    assert (embargo.version, embargo.ends_at, embargo.parties.count()) == (1, END, 1)
    assert list(AccessGrant.objects.values_list("user", flat=True)) == [alice.pk]


def test_it_rejects_a_party_acknowledgement_from_staff_not_granted(client_as, bob, embargoed_report):
    reporter = Embargo.objects.get(report=embargoed_report).parties.get()

    response = client_as(bob).post(
        report_url("embargo_acknowledge", embargoed_report, reporter.uid), {"version": "1"}
    )

    assert response.status_code == 404
    reporter.refresh_from_db()
    assert reporter.acknowledged_at is None


def test_it_rejects_a_break_glass_holder_who_tries_to_move_the_embargo(client_as, bob, embargoed_report):
    break_glass(report=embargoed_report, actor=bob, reason=GLASS)

    response = client_as(bob).post(report_url("embargo_move", embargoed_report), ACTIONS["embargo_move"])

    assert response.status_code == 403
    assert Embargo.objects.get(report=embargoed_report).version == 1


# --- Break-glass ---------------------------------------------------------------------------------


def test_the_report_page_offers_break_glass_to_a_triager_not_granted(client_as, bob, embargoed_report):
    response = client_as(bob).get(report_url("report", embargoed_report))

    assert response.status_code == 404
    html = response.content.decode()
    assert 'id="break-glass-form"' in html
    assert report_url("break_glass", embargoed_report) in html
    assert "11 June 2026, 09:00 UTC" in html
    assert "Alice Triager" in html
    assert CANARY not in html
    assert REASON not in html
    assert not AuditEvent.objects.filter(event=Event.REPORT_VIEWED).exists()


def test_it_rejects_offering_break_glass_for_a_report_that_does_not_exist(client_as, bob, embargoed_report):
    missing = new_tracking_id()

    for name in ("report", "break_glass"):
        response = client_as(bob).get(reverse(f"triage:{name}", args=[missing]))
        assert response.status_code == 404
        assert b"break-glass-form" not in response.content


def test_it_rejects_viewers_on_the_break_glass_page_exactly_as_for_a_missing_report(
    client_as, charlie, embargoed_report
):
    real = client_as(charlie).get(report_url("break_glass", embargoed_report))
    missing = client_as(charlie).get(reverse("triage:break_glass", args=[new_tracking_id()]))

    assert real.status_code == missing.status_code == 403
    assert without_tokens(real) == without_tokens(missing)


def test_breaking_the_glass_opens_the_report_and_tells_the_lead_and_setter(
    client_as, alice, bob, dave, embargoed_report, django_capture_on_commit_callbacks
):
    client = client_as(bob)
    assert client.get(report_url("break_glass", embargoed_report)).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(report_url("break_glass", embargoed_report), {"reason": GLASS})

    assert response.status_code == 303
    assert response["Location"] == report_url("report", embargoed_report)
    page = client.get(report_url("report", embargoed_report))
    assert page.status_code == 200
    shown = panel(page.content.decode())
    assert "Break-glass" in shown
    assert GLASS in shown
    assert 'id="embargo-read-only"' in shown
    assert 'id="embargo-move-form"' not in shown
    assert 'id="embargo-grant-form"' not in shown
    assert sorted(m.to[0] for m in mail.outbox) == sorted([alice.email, dave.email])
    assert client.get(report_url("break_glass", embargoed_report)).status_code == 303  # nothing more to break


def test_a_short_reason_is_refused_and_kept(client_as, bob, embargoed_report):
    response = client_as(bob).post(report_url("break_glass", embargoed_report), {"reason": "urgent"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "at least 10 characters" in html
    assert ">\nurgent</textarea>" in html
    assert not AccessGrant.objects.filter(kind=GrantKind.BREAK_GLASS).exists()


def test_the_break_glass_page_sends_those_who_may_see_the_report_straight_to_it(
    client_as, alice, fresh_report
):
    response = client_as(alice).get(report_url("break_glass", fresh_report))

    assert response.status_code == 303
    assert response["Location"] == report_url("report", fresh_report)


# --- Lists ---------------------------------------------------------------------------------------


def test_the_inbox_marks_embargoed_rows_for_those_who_see_them_and_hides_them_from_the_rest(
    client_as, alice, bob, embargoed_report, submit
):
    other = submit().report

    for_alice = client_as(alice).get(reverse("triage:inbox")).content.decode()
    for_bob = client_as(bob).get(reverse("triage:inbox")).content.decode()

    row = for_alice[for_alice.index(f'value="{embargoed_report.tracking_id}@') :]
    assert "Embargoed" in row[: row.index("</tr>")]
    assert embargoed_report.tracking_id not in for_bob
    assert other.tracking_id in for_bob
    assert "Embargoed" not in for_bob


def test_typing_the_tracking_id_in_the_inbox_leads_a_triager_not_granted_to_break_glass(
    client_as, bob, embargoed_report
):
    response = client_as(bob).get(reverse("triage:inbox"), {"q": embargoed_report.tracking_id.lower()})

    assert response.status_code == 302
    assert response["Location"] == report_url("break_glass", embargoed_report)


def test_the_duplicates_panel_does_not_name_an_embargoed_original(
    client_as, alice, bob, fresh_report, submit, clock
):
    clock.shift(timedelta(minutes=5))
    later = submit().report
    mark_duplicate(report=later, original=fresh_report, actor=alice)
    set_embargo(report=fresh_report, ends_at=END, reason=REASON, actor=alice)

    def duplicates_panel(user) -> str:
        html = client_as(user).get(report_url("report", later)).content.decode()
        start = html.index('id="duplicates"')
        return html[start : html.index("</section>", start)]

    # (The reporter's own message names the original: that is what she was told, not a staff list.)
    assert fresh_report.tracking_id not in duplicates_panel(bob)
    assert 'id="duplicate-of"' in duplicates_panel(alice)
    assert fresh_report.tracking_id in duplicates_panel(alice)


def test_the_vault_page_does_not_name_an_embargoed_report_to_an_admin_not_granted(
    client_as, alice, dave, embargoed_report
):
    request_deletion(report=embargoed_report, actor=reporter_actor(embargoed_report))
    assert embargoed_report.tracking_id not in client_as(dave).get(reverse("triage:vault")).content.decode()

    grant_access(report=embargoed_report, user=dave, actor=alice)

    assert embargoed_report.tracking_id in client_as(dave).get(reverse("triage:vault")).content.decode()


def test_it_rejects_a_bulk_action_on_an_embargoed_report_from_staff_not_granted(
    client_as, bob, embargoed_report
):
    data = {"action": "assign", "assignee": str(bob.pk), "report": [f"{embargoed_report.tracking_id}@1"]}

    response = client_as(bob).post(reverse("triage:bulk"), data, follow=True)

    assert "not yours to see" in response.content.decode()
    embargoed_report.refresh_from_db()
    assert embargoed_report.assignee_id is None


def test_the_home_page_counts_leave_out_what_the_reader_may_not_see(client_as, alice, bob, embargoed_report):
    def new_count(user) -> str:
        html = client_as(user).get(reverse("home")).content.decode()
        return " ".join(re.sub(r"<[^>]+>", " ", html).split())

    assert "1 new 1 open" in new_count(alice)
    assert "0 new 0 open" in new_count(bob)
