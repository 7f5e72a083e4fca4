"""The issue's "done when": a triager works a day's queue without leaving Bastion.

alice sees what is due, scores and classifies, marks a duplicate with an explanation the reporter
can check, decides a bounty (dave approves it), and dave sees the month's response figures. Every
step goes through the pages a person would use.
"""

from __future__ import annotations

import re
from datetime import timedelta

import time_machine
from django.urls import reverse
from django.utils import timezone

from bastion.reports.models import Asset, Bounty, BountyStatus, Program, Report, Status
from bastion.reports.services import open_report
from bastion.test import rita


def url(name: str, report: Report | None = None) -> str:
    return reverse(f"triage:{name}", args=[report.tracking_id] if report else [])


def test_a_triager_works_a_days_queue(submit, client_as, alice, dave):
    program = Program.objects.default()
    program.offers_bounty = True
    program.bounty_table = {"high": ["500", "2000"]}
    program.save()
    asset = Asset.objects.create(name="billing.example.com", program=program)
    start = timezone.now()
    with time_machine.travel(start - timedelta(hours=20), tick=False):
        first = submit(title="Stored XSS in the invoice note field at /invoices/notes").report
    with time_machine.travel(start - timedelta(hours=2), tick=False):
        second = submit(title="XSS via invoice note (/invoices/notes)", email="sam@example.org").report
    Report.objects.filter(pk__in=[first.pk, second.pk]).update(asset=asset)
    client = client_as(alice)

    # What is due: the oldest report's first response is due within a day (72 h in a bounty program).
    due = client.get(url("inbox"), {"clock": "due_soon", "due_hours": "72"}).content.decode()
    assert due.index(first.tracking_id) < due.index(second.tracking_id)

    # Score and classify the first report.
    classify = {"cvss_v3": "CVSS:3.1/AV:N/AC:L/PR:L/UI:R/S:C/C:H/I:L/A:N", "cwe_id": "CWE-79"}
    response = client.post(url("classify", first), {**classify, "asset": asset.pk, "version": first.version})
    assert response.status_code == 303
    first.refresh_from_db()
    assert (first.severity, first.cwe_id, str(first.cvss_score)) == ("high", 79, "7.6")

    # Duplicates: the first report is a candidate for the second, and why is said.
    candidates = client.get(url("duplicates", second)).content.decode()
    assert first.tracking_id in candidates
    assert "/invoices/notes" in candidates
    second.refresh_from_db()
    mark = {"original": first.tracking_id, "version": second.version, "reporter_message": "Thanks!"}
    assert client.post(url("mark_duplicate", second), mark).status_code == 303
    second.refresh_from_db()
    assert (second.status, second.duplicate_of) == (Status.DUPLICATE, first)
    told = open_report(report=second, actor=alice).messages[-1].body
    assert first.tracking_id in told
    assert "-----BEGIN PGP SIGNED MESSAGE-----" in told  # the original's receipt, checkable with gpg

    # Bounty: eligible, proposed by alice, approved by dave (four eyes).
    bounty_url = url("bounty_eligibility", first)
    yes = {"in_scope": "yes", "first_to_report": "yes", "policy_followed": "yes", "version": 1}
    assert client.post(bounty_url, yes).status_code == 303
    bounty = Bounty.objects.get(report=first)
    proposal = {"amount": "750", "currency": "USD", "version": bounty.version}
    assert client.post(url("bounty_propose", first), proposal).status_code == 303
    bounty.refresh_from_db()
    approved = client_as(dave).post(url("bounty_approve", first), {"version": bounty.version})
    assert approved.status_code == 303
    bounty.refresh_from_db()
    assert (bounty.status, bounty.approved_by) == (BountyStatus.APPROVED, dave)

    # The lead sees the month's figures as charts.
    figures = client_as(dave).get(url("metrics")).content.decode()
    assert len(re.findall(r"<svg\b", figures)) >= 4
    assert "First response" in figures
    assert rita.email not in figures
