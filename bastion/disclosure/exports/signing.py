"""Each published document's canonical bytes, their SHA-256, and the org key's detached signature.

The bytes are fixed once (sorted keys, two-space indent, a trailing newline): what is hashed and
signed is exactly what is served, so ``sha256sum -c`` and ``gpg --verify`` work on the download.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from bastion.lib.openpgp import detached_sign
from bastion.vault.orgkey import get_org_key


def canonical_bytes(document: dict[str, Any]) -> bytes:
    """The document as served: UTF-8 JSON, keys sorted, indented by two, ending in a newline."""
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """The lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file_line(digest: str, filename: str) -> str:
    """A ``.sha256`` file's text in ``sha256sum`` format: ``<hex>  <filename>`` and a newline."""
    return f"{digest}  {filename}\n"


@dataclass(frozen=True)
class SignedDocument:
    """A document's served text, its SHA-256, and an armored detached signature over its bytes."""

    text: str
    sha256: str
    signature: str


def sign_document(document: dict[str, Any]) -> SignedDocument:
    """Serialise ``document`` canonically, hash it, and sign it with the org key."""
    data = canonical_bytes(document)
    return SignedDocument(
        text=data.decode("utf-8"), sha256=sha256_hex(data), signature=detached_sign(data, get_org_key())
    )
