"""Admins set a program's terms and its assets; the terms are checked field by field."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.models import Asset, Program


def terms(**overrides: object) -> dict[str, object]:
    """The default program's form as an admin would post it unchanged, with ``overrides``."""
    form: dict[str, object] = {
        "name": "Security program",
        "slug": "default",
        "currency": "USD",
        "approval_threshold": "1000",
        "time_zone": "UTC",
        "needs_info_warn_hours": 168,
        "needs_info_close_hours": 336,
        "target_first_response": 24,
        "target_first_response_bounty": 72,
        "target_triage": 120,
        "target_bounty_decision": 336,
        "days": [0, 1, 2, 3, 4],
        "start": "09:00",
        "end": "17:00",
    }
    for severity, hours in {"critical": 168, "high": 720, "medium": 2160, "low": 4320, "none": 4320}.items():
        form[f"target_resolution_{severity}"] = hours
    return {**form, **overrides}


def edit_url() -> str:
    return reverse("triage:program_edit", args=[Program.objects.default().pk])


def test_an_admin_sets_business_hours_holidays_targets_and_a_bounty_table(client_as, dave):
    form = terms(
        business_hours_only="on",
        holidays_text="2026-12-25\n2027-01-01",
        target_first_response=8,
        offers_bounty="on",
        bounty_high_min="500",
        bounty_high_max="2000",
    )

    response = client_as(dave).post(edit_url(), form)

    assert response.status_code == 303
    program = Program.objects.default()
    assert program.business_hours == {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}
    assert program.holidays == ["2026-12-25", "2027-01-01"]
    assert program.target_hours("first_response") == 8
    assert program.target_hours("resolution", "critical") == 168
    assert program.bounty_table == {"high": ["500", "2000"]}
    assert AuditEvent.objects.filter(event=Event.PROGRAM_UPDATED).count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"business_hours_only": "on", "start": "18:00", "end": "09:00"}, "must be before end"),
        ({"holidays_text": "Christmas"}, "is not a date written as YYYY-MM-DD"),
        ({"bounty_low_min": "500", "bounty_low_max": "100"}, "minimum first"),
        ({"currency": "usd"}, "three-letter ISO 4217 code"),
        ({"needs_info_warn_hours": 400}, "warn sooner than you close"),
        ({"time_zone": "Mars/Olympus"}, "is not a known time zone"),
        ({"target_triage": 0}, "greater than or equal to 1"),
    ],
)
def test_bad_terms_are_refused_with_a_clear_message_and_nothing_changes(client_as, dave, overrides, message):
    response = client_as(dave).post(edit_url(), terms(**overrides))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert Program.objects.default().targets == {}


def test_an_admin_adds_an_asset_to_a_program(client_as, dave):
    program = Program.objects.default()
    form = {"name": "api.example.com", "program": program.pk, "description": "Public API"}

    response = client_as(dave).post(reverse("triage:asset_new"), form)

    assert response.status_code == 303
    assert Asset.objects.get().program == program
    assert "api.example.com" in client_as(dave).get(reverse("triage:programs")).content.decode()


@pytest.mark.parametrize("name", ["programs", "program_new", "asset_new"])
def test_it_rejects_triagers_and_viewers(client_as, alice, charlie, name):
    for user in (alice, charlie):
        assert client_as(user).get(reverse(f"triage:{name}")).status_code == 403
