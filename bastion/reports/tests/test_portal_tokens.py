"""Portal links: derived from a secret and a nonce, checked in constant time, revoked by rotation."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports import identifiers
from bastion.reports.errors import PortalTokenRejected
from bastion.reports.services import (
    portal_token,
    portal_url,
    report_for_portal_token,
    reporter_actor,
    rotate_portal_token,
)

pytestmark = pytest.mark.django_db


def rejections() -> list[str]:
    return [
        e.data["reason"] for e in AuditEvent.objects.filter(event=Event.PORTAL_TOKEN_REJECTED).order_by("id")
    ]


def test_a_valid_link_opens_its_report(submit):
    result = submit()
    report = result.report
    token = portal_token(report)

    assert result.portal_url == f"https://bastion.example/portal/{report.tracking_id}/{token}/"
    assert report_for_portal_token(report.tracking_id, token) == report
    # A tracking ID typed by hand, lower case and with look-alike letters, still finds it.
    typed = report.tracking_id.lower().replace("1", "l").replace("0", "o")
    assert report_for_portal_token(typed, token) == report
    assert rejections() == []


def test_the_token_is_not_stored_anywhere(submit):
    report = submit().report
    token = portal_token(report)

    for value in (report.portal_nonce, str(report.uid), report.tracking_id):
        assert token not in value


def test_a_wrong_token_or_an_unknown_report_is_refused_and_audited(submit):
    report = submit().report
    other = submit().report
    token = portal_token(report)

    attempts = [
        (report.tracking_id, portal_token(other)),  # another report's token
        (report.tracking_id, token[:-1] + ("A" if token[-1] != "A" else "B")),
        ("BST-0000000000", token),
        (report.tracking_id, "short"),
        ("not a tracking id", token),
    ]
    for tracking_id, attempt in attempts:
        with pytest.raises(PortalTokenRejected):
            report_for_portal_token(tracking_id, attempt, ip="198.51.100.4")

    assert rejections() == ["bad_token", "bad_token", "unknown", "malformed", "malformed"]
    event = AuditEvent.objects.filter(event=Event.PORTAL_TOKEN_REJECTED).first()
    assert event is not None
    assert event.ip == "198.51.100.4"
    assert event.actor_kind == "anonymous"
    assert token not in str(AuditEvent.objects.values_list("data", flat=True))


def test_rotating_the_link_revokes_the_old_one(submit):
    report = submit().report
    old_url, old_token = portal_url(report), portal_token(report)

    new_url = rotate_portal_token(report=report, actor=reporter_actor(report))

    assert new_url != old_url
    with pytest.raises(PortalTokenRejected):
        report_for_portal_token(report.tracking_id, old_token)
    report.refresh_from_db()
    assert report_for_portal_token(report.tracking_id, portal_token(report)) == report
    assert new_url == portal_url(report)
    assert AuditEvent.objects.filter(event=Event.REPORTER_UPDATED, data={"fields": ["portal_link"]}).exists()


def test_only_the_reporter_or_staff_can_rotate_it(submit, alice, charlie):
    report = submit().report
    other = submit().report

    rotate_portal_token(report=report, actor=alice)
    for outsider in (charlie, reporter_actor(other), None):
        with pytest.raises(PermissionDenied):
            rotate_portal_token(report=report, actor=outsider)


def test_links_survive_a_secret_key_rotation_through_the_fallbacks(submit, settings):
    report = submit().report
    token = portal_token(report)

    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-brand-new-secret-key-for-this-instance-0123456789"

    assert portal_token(report) != token
    assert report_for_portal_token(report.tracking_id, token) == report
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(PortalTokenRejected):
        report_for_portal_token(report.tracking_id, token)


def test_tracking_ids_are_random_crockford_base32():
    ids = {identifiers.new_tracking_id() for _ in range(200)}

    assert len(ids) == 200
    assert all(identifiers.TRACKING_ID.fullmatch(i) for i in ids)
    assert identifiers.normalize_tracking_id(" bst-7q2m 0xk4zd ") == "BST-7Q2M0XK4ZD"
    assert identifiers.normalize_tracking_id("BST-7Q2M0XK4ZU") is None  # U is not in the alphabet
    assert identifiers.normalize_tracking_id("BST-123") is None
