"""The signed receipt verifies with gpg, and its hash is the canonical submission's, re-computable."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from bastion.reports import receipts
from bastion.reports.services import open_report
from bastion.reports.tests.conftest import FILE_BYTES, a_file
from bastion.vault.orgkey import get_org_key

pytestmark = pytest.mark.django_db


def signed_text(statement: str) -> str:
    """The text between the cleartext-signature header and the signature."""
    match = re.search(
        r"-----BEGIN PGP SIGNED MESSAGE-----\n(?:.+\n)*\n(.*?)\n-----BEGIN PGP SIGNATURE", statement, re.S
    )
    assert match, statement
    return match.group(1)


def test_the_receipt_verifies_with_gpg_against_the_org_key(submit, gpg):
    receipt = submit(attachments=[a_file()]).receipt
    org = get_org_key()
    gpg("--import", input=org.armored_public().encode())

    result = gpg("--verify", input=receipt.statement.encode())

    status = result.stderr.decode(errors="replace")
    assert "[GNUPG:] GOODSIG" in status
    validsig = next(line.split() for line in status.splitlines() if line.startswith("[GNUPG:] VALIDSIG"))
    assert validsig[-1] == org.fingerprint  # the primary key's fingerprint; a subkey signs
    assert receipt.org_key_fingerprint == org.fingerprint


def test_a_receipt_with_one_character_changed_does_not_verify(submit, gpg):
    receipt = submit().receipt
    gpg("--import", input=get_org_key().armored_public().encode())
    forged = receipt.statement.replace("Policy version: 3", "Policy version: 2")

    result = gpg("--verify", input=forged.encode(), check=False)

    assert result.returncode != 0
    assert "[GNUPG:] BADSIG" in result.stderr.decode(errors="replace")


def test_the_receipt_states_what_was_received_without_content(submit):
    result = submit(attachments=[a_file(), a_file(b"second")])
    report = result.report
    text = signed_text(result.receipt.statement)

    first, second = hashlib.sha256(FILE_BYTES).hexdigest(), hashlib.sha256(b"second").hexdigest()
    assert text == (
        "Bastion receipt\n"
        f"Tracking ID: {report.tracking_id}\n"
        f"Received (UTC): {report.received_at.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
        "Policy version: 3\n"
        "Channel: web\n"
        f"Submission SHA-256: {report.submission_sha256}\n"
        f"Attachments: 2 (sha256 {first}, {second})\n"
    )


def test_its_hash_is_the_sha256_of_the_canonical_submission(submit, alice):
    result = submit(attachments=[a_file()])
    opened = open_report(report=result.report, actor=alice)

    canonical = receipts.canonical_submission(
        title=opened.title,
        description=opened.description,
        product=opened.product,
        version=opened.version,
        steps=opened.steps,
        impact=opened.impact,
        attachments=[
            receipts.FileDigest(sha256=hashlib.sha256(FILE_BYTES).hexdigest(), size=len(FILE_BYTES))
        ],
    )
    assert f"Submission SHA-256: {hashlib.sha256(canonical).hexdigest()}\n" in result.receipt.statement


def test_the_canonical_form_is_the_documented_json_so_a_reporter_can_recompute_it():
    canonical = receipts.canonical_submission(
        title="Tïtle",
        description="line 1\nline 2",
        product="",
        version="",
        steps="",
        impact="",
        attachments=[receipts.FileDigest(sha256="ab" * 32, size=3)],
    )
    by_hand = {
        "title": "Tïtle",
        "description": "line 1\nline 2",
        "product": "",
        "version": "",
        "steps": "",
        "impact": "",
        "format": "bastion-submission/1",
        "attachments": [{"size": 3, "sha256": "ab" * 32}],
    }

    assert (
        canonical == json.dumps(by_hand, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert canonical.startswith(b'{"attachments":[{"sha256":"abab')
    assert "Tïtle".encode() in canonical
