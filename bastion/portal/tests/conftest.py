"""Fixtures for the portal tests: a private vault, rita's report, and its magic link.

rita has no account: the link is all she has. ``report`` is made through the real
``submit_report``, so the portal reads exactly what intake would have stored.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.urls import reverse

from bastion.lib.openpgp import PublicKey, generate_org_key
from bastion.reports.models import Channel, Report
from bastion.reports.services import IncomingFile, Submission, portal_token, submit_report
from bastion.test import rita

# In every text field rita sends; internal notes carry their own marker, which must never show.
DESCRIPTION = "The **/export** endpoint returns every tenant's invoices."
FILE_BYTES = b"\x00\xffproof of concept\n" * 9000  # ~160 KB: several sealed chunks


@pytest.fixture(autouse=True)
def private_vault(private_keys, settings, tmp_path: Path) -> Path:
    """Each test gets its own master keys, blob directory and vault state (the real local backends)."""
    settings.BASE_URL = "https://bastion.example"
    settings.DEFAULT_FROM_EMAIL = "security@bastion.example"
    return tmp_path / "files"


def make_report(**overrides: object) -> Report:
    """rita's report (name, handle, address, credit by name), submitted through the web channel."""
    values: dict[str, object] = {
        "title": "Invoice export leaks other tenants",
        "description": DESCRIPTION,
        "reporter_name": rita.full_name,
        "reporter_handle": "rita",
        "email": rita.email,
        "credit_preference": "name",
    }
    values.update(overrides)
    files = [IncomingFile(filename="poc.py", content_type="text/x-python", stream=io.BytesIO(FILE_BYTES))]
    result = submit_report(
        submission=Submission(**values),  # type: ignore[arg-type]
        attachments=files,
        channel=Channel.WEB,
        policy_version=1,
        actor=None,
        ip="192.0.2.10",
    )
    return result.report


@pytest.fixture
def report(db, django_capture_on_commit_callbacks) -> Report:
    """rita's report, with the acknowledgement work that runs on commit done."""
    with django_capture_on_commit_callbacks(execute=True):
        return make_report()


def link(report: Report, name: str = "report", *extra: object) -> str:
    """The portal URL ``name`` for ``report``, with its current token."""
    return reverse(f"portal:{name}", args=[report.tracking_id, portal_token(report), *extra])


def bad_link(report: Report, name: str = "report", *extra: object) -> str:
    """The portal URL ``name`` for ``report`` with a well-formed token that is not its own."""
    wrong = "A" * 43
    return reverse(f"portal:{name}", args=[report.tracking_id, wrong, *extra])


def visible_text(response: HttpResponse) -> str:
    """The page's text as a reader sees it: tags dropped, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split()).replace(" .", ".")


@pytest.fixture(scope="session")
def rita_key() -> PublicKey:
    """A usable OpenPGP key for rita (made with the same engine as the org key: no gpg needed)."""
    return generate_org_key(f"Rita <{rita.email}>").public
