"""Test helpers for the exports and the public pages: sample advisories, and a published one in the database.

Not imported by production code. The samples cover what the exporters must handle: several
products, packages and not, CVSS 3.1, 3.0 and 4.0, credits of several types, an update with
revisions, a withdrawal.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from bastion.accounts.models import User
from bastion.disclosure.content import (
    AdvisoryContent,
    AffectedPackage,
    PublicationMeta,
    PublicCredit,
    RevisionEntry,
)
from bastion.disclosure.exports.publish import publish_documents
from bastion.disclosure.models import Advisory, AdvisoryChange, AdvisoryState
from bastion.disclosure.services.advisories.publication import public_form
from bastion.vault.services import create_data_key

RAILS = AffectedPackage(
    product="Action Pack",
    vendor="Ruby on Rails",
    ecosystem="RubyGems",
    package="actionpack",
    introduced="7.0.0",
    fixed="7.1.3.1",
    affected_versions=">= 7.0.0, < 7.1.3.1",
)
LEFT_PAD = AffectedPackage(product="left-pad", ecosystem="npm", package="@acme/left-pad", fixed="2.0.1")
REQUESTS = AffectedPackage(
    product="requests", ecosystem="PyPI", package="Requests_Toolbelt", introduced="1.2"
)
HOSTED = AffectedPackage(product="Widget Cloud", vendor="Acme", affected_versions="before 2026-03-01")

RICH = AdvisoryContent(
    title="Remote code execution through crafted uploads",
    summary="A crafted upload makes the server run code of the uploader's choosing.",
    description=(
        "An **attacker** who can upload a file runs code.\n\n<script>alert(1)</script>\n\n1. Upload\n2. Run"
    ),
    affected=(RAILS, LEFT_PAD, REQUESTS, HOSTED),
    cvss_v3="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    cvss_v4="CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
    cwe_id=79,
    cve_id="CVE-2026-12345",
    references=("https://github.com/rails/rails/security/advisories/GHSA-xxxx", "https://example.org/fix"),
    workaround="Turn uploads off (`uploads.enabled = false`).",
)
# A hosted service only, unscored, unfixed, with no CVE: the least an advisory can say.
MINIMAL = AdvisoryContent(
    title="Session fixation in Widget Cloud",
    summary="Sessions survived a log-in.",
    affected=(AffectedPackage(product="Widget Cloud"),),
)
CREDITS = (
    PublicCredit("Rita Reporter", "finder", "https://rita.example"),
    PublicCredit("@ritasfriend", "analyst"),
    PublicCredit("Anonymous", "reporter"),
    PublicCredit("Upstream Maintainers", "remediation developer", "https://rubyonrails.org"),
)
FIRST = "2026-03-01T12:00:00+00:00"
SECOND = "2026-03-05T09:30:00.123456+00:00"


def sample_meta(identifier: str = "BASTION-SA-2026-0001", **changes: Any) -> PublicationMeta:
    """Publication metadata for a first publication on 1 March 2026, with ``changes`` applied."""
    meta = PublicationMeta(
        identifier=identifier,
        initial_release=FIRST,
        current_release=FIRST,
        revisions=(RevisionEntry(1, FIRST, "Initial publication"),),
        credits=CREDITS,
        url=f"https://bastion.example/security/advisories/{identifier}",
    )
    return replace(meta, **changes)


def updated_meta(identifier: str = "BASTION-SA-2026-0001") -> PublicationMeta:
    """The metadata after one update (two revisions), on 5 March 2026."""
    return sample_meta(
        identifier,
        current_release=SECOND,
        revisions=(
            RevisionEntry(1, FIRST, "Initial publication"),
            RevisionEntry(2, SECOND, "Fixed versions"),
        ),
    )


def withdrawn_meta(
    identifier: str = "BASTION-SA-2026-0001", reason: str = "Not a vulnerability"
) -> PublicationMeta:
    """The metadata of the same advisory withdrawn on 5 March 2026, as the advisory services write it."""
    return sample_meta(
        identifier,
        current_release=SECOND,
        revisions=(
            RevisionEntry(1, FIRST, "Initial publication"),
            RevisionEntry(2, SECOND, f"Withdrawn: {reason}"),
        ),
        withdrawn=True,
        withdrawn_reason=reason,
    )


def publish_sample(
    *,
    author: User,
    content: AdvisoryContent = RICH,
    meta: PublicationMeta | None = None,
    published_at: datetime | None = None,
) -> Advisory:
    """An advisory row published with ``content`` and ``meta``: its public form, change log and documents.

    The sealed draft content is left empty: nothing public reads it, and these tests must show
    that the public side never needs it.
    """
    meta = meta or sample_meta()
    advisory = Advisory(identifier=meta.identifier, created_by=author, content=b"")
    advisory.data_key, _plain = create_data_key(subject=f"advisory:{advisory.uid}")
    advisory.state = AdvisoryState.WITHDRAWN if meta.withdrawn else AdvisoryState.PUBLISHED
    advisory.published_at = published_at or datetime.fromisoformat(meta.initial_release)
    advisory.published = public_form(content, meta)
    advisory.published_revision = len(meta.revisions)
    advisory.save()
    for entry in meta.revisions:
        AdvisoryChange.objects.create(
            advisory=advisory,
            revision=entry.number,
            summary=entry.summary,
            created_at=datetime.fromisoformat(entry.date),
        )
    publish_documents(advisory=advisory, content=content, meta=meta)
    return advisory


def csaf_cli() -> str:
    """The ``csaf`` validator's command (a development dependency, installed beside this Python)."""
    beside = Path(sys.executable).parent / "csaf"
    found = str(beside) if beside.exists() else shutil.which("csaf")
    if not found:
        raise RuntimeError("the csaf validator is not installed: pip install csaf (a development dependency)")
    return found


def csaf_validate(path: Path) -> subprocess.CompletedProcess[str]:
    """Run the ``csaf`` validator's CSAF 2.0 mandatory tests on ``path``, with no network."""
    command = [csaf_cli(), "validate", "--spec-version", "v20", "--no-network", "-q", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603 - fixed argv, no shell
