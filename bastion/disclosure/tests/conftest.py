"""Fixtures for the disclosure tests: the CNA's orgId, rita's report, an advisory drafted about it.

``submit`` is the reports tests' own. Their private vault is autouse, so it is not imported here:
each module that seals content imports it itself, and the modules that seal nothing keep the
suite's vault as they always have. Likewise ``cve_org`` is opt-in (``usefixtures``): some modules
test what happens without an orgId.

``published`` is ``draft`` published at its embargo's end, a day before the test. The helpers
(``full_content``, ``embargo_end``, ``make_ready``, ``advisory_url``) are imported by the advisory
modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from bastion.accounts.models import User
from bastion.disclosure.content import AdvisoryContent
from bastion.disclosure.exports.testing import RAILS
from bastion.disclosure.models import Advisory, Handoff
from bastion.disclosure.services.advisories import (
    approve_advisory,
    create_advisory,
    publish_advisory,
    schedule_publication,
    submit_for_review,
)
from bastion.disclosure.services.handoff import export_handoff
from bastion.disclosure.services.upstream import ContactDetails, save_upstream_contact
from bastion.reports.models import Report
from bastion.reports.services import reporter_actor
from bastion.reports.services.credits import confirm_credit, ensure_reporter_credit
from bastion.reports.services.embargo import grant_access, set_embargo
from bastion.reports.tests.conftest import CANARY, submit  # noqa: F401  (submit: a fixture)
from bastion.test import uma

ORG_ID = "8254265b-2729-46b6-b9e3-3dfca2d5bfca"  # a version 4 UUID, as the CVE Program's orgIds are


@pytest.fixture
def cve_org(settings) -> str:
    """A CNA orgId for the CVE export (its schema requires one); the orgId."""
    settings.CVE_ORG_ID = ORG_ID
    return ORG_ID


def full_content(**changes: Any) -> AdvisoryContent:
    """Everything an advisory says, with the canary in its secret text."""
    content = AdvisoryContent(
        title=f"Invoice export leaks other tenants {CANARY}",
        summary="Any signed-in user can read other tenants' invoices.",
        description=f"The **/export** endpoint ignores the tenant. {CANARY}",
        affected=(RAILS,),
        cvss_v3="CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
        cwe_id=639,
        cve_id="CVE-2026-12345",
        references=("https://example.org/fix",),
        workaround="Turn the export off.",
    )
    return replace(content, **changes)


@pytest.fixture
def report(submit) -> Report:  # noqa: F811  (the imported fixture)
    """rita's report (the canary in every field), acknowledged; the outbox emptied."""
    created = submit().report
    mail.outbox.clear()
    return created


@pytest.fixture
def draft(report: Report, alice: User) -> Advisory:
    """alice's full draft about rita's report."""
    return create_advisory(reports=[report], content=full_content(), actor=alice)


def embargo_end(days: int = 2) -> datetime:
    """A whole-second instant ``days`` from now: an embargo's end."""
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def make_ready(
    advisory: Advisory,
    report: Report,
    *,
    author: User,
    reviewer: User,
    ends_at: datetime,
    submitted: bool = False,
) -> Advisory:
    """``advisory`` with every checklist item in place for ``ends_at``: embargo set to end then
    (by ``author``, who is granted, and who grants ``reviewer``), the reporter's credit confirmed,
    approved by ``reviewer`` (``submitted``: it is in review already), scheduled for the embargo's
    end (the reporter told)."""
    set_embargo(report=report, ends_at=ends_at, reason="Fix ships with 7.1.3.1", actor=author)
    grant_access(report=report, user=reviewer, actor=author)
    credit = ensure_reporter_credit(report)
    confirm_credit(credit=credit, actor=reporter_actor(report), seen_version=credit.version)
    if not submitted:
        submit_for_review(advisory=advisory, actor=author)
    approve_advisory(advisory=advisory, actor=reviewer)
    schedule_publication(advisory=advisory, actor=author)
    advisory.refresh_from_db()
    return advisory


@pytest.fixture
def published(draft, report, alice, bob) -> Iterator[Advisory]:
    """``draft``, published at its embargo's end; the test then runs a day later (the embargo over)."""
    ends = embargo_end()
    make_ready(draft, report, author=alice, reviewer=bob, ends_at=ends)
    with time_machine.travel(ends, tick=False):
        publish_advisory(advisory=draft, actor=alice)
    draft.refresh_from_db()
    with time_machine.travel(ends + timedelta(days=1)):
        yield draft


def advisory_url(name: str, advisory: Advisory | None = None) -> str:
    """The staff's advisory page ``name``, of ``advisory`` when the page is about one."""
    args = [advisory.identifier] if advisory is not None else []
    return reverse(f"disclosure_staff:{name}", args=args)


@pytest.fixture
def handoff(report, alice) -> Handoff:
    """rita's report handed to Rails' GitHub page by alice, due in ten days."""
    contact = save_upstream_contact(
        contact=None,
        data=ContactDetails(
            project="Ruby on Rails",
            ecosystem="RubyGems",
            email=uma.email,
            channel="github",
            channel_url="https://github.com/rails/rails/security/advisories/new",
        ),
        actor=alice,
    )
    deadline = timezone.now() + timedelta(days=10)
    export = export_handoff(
        report=report,
        contact=contact,
        sections=["summary"],
        include_identity=False,
        deadline=deadline,
        actor=alice,
    )
    return export.handoff
