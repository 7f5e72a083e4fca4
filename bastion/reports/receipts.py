"""The signed receipt: a hash of exactly what we received, signed with the organisation's key.

The receipt lets a reporter prove later what they sent and when (for a bounty dispute, or to show
they disclosed responsibly), without Bastion having to keep or reveal the content: it states only
the SHA-256 of the canonical submission (:func:`canonical_submission`) and of each file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bastion.lib.openpgp import SecretKey, clearsign

SUBMISSION_FORMAT = "bastion-submission/1"
CONTENT_FIELDS = ("description", "impact", "product", "steps", "version")


@dataclass(frozen=True)
class FileDigest:
    """A file as the receipt knows it: the SHA-256 (hex) and size in bytes of its plaintext."""

    sha256: str
    size: int


def _canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def canonical_submission(
    *,
    title: str,
    description: str,
    product: str,
    version: str,
    steps: str,
    impact: str,
    attachments: Sequence[FileDigest],
) -> bytes:
    """The canonical bytes of a submission, whose SHA-256 the receipt states.

    Format ``bastion-submission/1``: the UTF-8 encoding of the JSON object

    .. code-block:: text

        {"attachments": [{"sha256": "<hex>", "size": <bytes>}, ...],
         "description": "...", "format": "bastion-submission/1", "impact": "...",
         "product": "...", "steps": "...", "title": "...", "version": "..."}

    serialised with keys sorted, no whitespace between tokens, and non-ASCII characters written as
    themselves (Python: ``json.dumps(obj, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False).encode()``). Attachments are listed in the order they were sent. Text fields
    are as stored: line endings normalised to ``\\n`` and surrounding whitespace stripped, with
    ``""`` for a field left empty. Reporter details (name, address, key) are deliberately not part
    of it: the receipt is about what was reported, and a hash of an address would let anyone who
    sees the receipt confirm a guess of who reported.

    To re-check a receipt, rebuild this object from your copy, hash it with SHA-256 and compare the
    hex digest with the receipt's "Submission SHA-256" line.
    """
    return _canonical_json(
        {
            "attachments": [{"sha256": a.sha256, "size": a.size} for a in attachments],
            "description": description,
            "format": SUBMISSION_FORMAT,
            "impact": impact,
            "product": product,
            "steps": steps,
            "title": title,
            "version": version,
        }
    )


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def content_json(*, description: str, product: str, version: str, steps: str, impact: str) -> str:
    """The text sealed as ``Report.content``: the submission's fields other than the title."""
    values = {
        "description": description,
        "impact": impact,
        "product": product,
        "steps": steps,
        "version": version,
    }
    return _canonical_json(values).decode("utf-8")


def parse_content(text: str) -> dict[str, str]:
    """The fields of an opened ``Report.content`` (every field present, ``""`` when empty)."""
    values = json.loads(text)
    return {name: str(values.get(name, "")) for name in CONTENT_FIELDS}


def receipt_statement(
    *,
    tracking_id: str,
    received_at: datetime,
    policy_version: int,
    channel: str,
    submission_sha256: str,
    attachments: Sequence[FileDigest],
) -> str:
    """The text that is signed. Plain lines, so it reads well in a mail and verifies with gpg."""
    hashes = ", ".join(a.sha256 for a in attachments)
    files = f"{len(attachments)} (sha256 {hashes})" if attachments else "0"
    received = received_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        "Bastion receipt\n"
        f"Tracking ID: {tracking_id}\n"
        f"Received (UTC): {received}\n"
        f"Policy version: {policy_version}\n"
        f"Channel: {channel}\n"
        f"Submission SHA-256: {submission_sha256}\n"
        f"Attachments: {files}\n"
    )


@dataclass(frozen=True)
class SignedStatement:
    """A cleartext-signed statement and the fingerprint of the key that signed it."""

    text: str
    fingerprint: str


def sign_statement(statement: str, *, org_key: SecretKey) -> SignedStatement:
    """Clear-sign ``statement`` with the organisation's key."""
    return SignedStatement(text=clearsign(statement, org_key), fingerprint=org_key.fingerprint)
