"""How an audit row is hashed: the one definition that both writing and verifying use.

For a row with predecessor hash ``prev_hash`` (64 zeros for the first row)::

    hash = sha256(utf8(prev_hash + canonical_json(content))).hexdigest()

where ``content`` is the object with exactly these keys: ``id``, ``occurred_at`` (ISO-8601 in UTC
with microseconds, ``2026-11-02T09:30:00.000000+00:00``), ``event``, ``actor_id``, ``actor_label``,
``actor_kind``, ``target_type``, ``target_id``, ``ip`` (Python's canonical text form, or null) and
``data``; and ``canonical_json`` is ``json.dumps(..., sort_keys=True, separators=(",", ":"),
ensure_ascii=False)``. The row's own id is hashed, so rows cannot be renumbered or swapped; the
predecessor's hash is hashed, so none can be removed or slipped in without breaking the next link.

This is written out in full so that anyone can check an exported trail without Bastion's code.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64
# Keep audit metadata small: it is metadata, and a large blob is a sign someone is logging content.
MAX_DATA_BYTES = 4096
HASHED_FIELDS = (
    "id",
    "occurred_at",
    "event",
    "actor_id",
    "actor_label",
    "actor_kind",
    "target_type",
    "target_id",
    "ip",
    "data",
)


def canonical_json(value: object) -> str:
    """The one JSON spelling of ``value``: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def format_timestamp(value: datetime) -> str:
    """ISO-8601 in UTC with microseconds, whatever zone the database handed back."""
    if value.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_ip(value: str | None) -> str | None:
    """An address in Python's canonical text form, so SQLite text and PostgreSQL inet hash alike."""
    if value is None or value == "":
        return None
    return str(ipaddress.ip_address(value))


def clean_text(value: str, max_length: int) -> str:
    """Text as it will be stored: NULs (which PostgreSQL refuses) replaced, cut to the column width.

    Doing this before hashing means the hash covers exactly what the database keeps.
    """
    return value.replace("\x00", "\ufffd")[:max_length]


def clean_data(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate audit metadata and return it in the exact shape the database will give back.

    Only strings, integers, booleans, null, lists and string-keyed objects are allowed. Floats are
    refused: PostgreSQL's jsonb may respell them (``1e+20`` comes back as an integer), which would
    break the hash of an honest row. Write scores and ratios as strings.
    """
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise TypeError("audit data must be a mapping")
    cleaned = _clean_value(data)
    if len(canonical_json(cleaned).encode("utf-8")) > MAX_DATA_BYTES:
        raise ValueError(f"audit data is larger than {MAX_DATA_BYTES} bytes; record ids, not content")
    assert isinstance(cleaned, dict)
    return cleaned


def _clean_value(value: object) -> object:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list | tuple):
        return [_clean_value(item) for item in value]
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("audit data keys must be strings")
        return {key.replace("\x00", "\ufffd"): _clean_value(item) for key, item in value.items()}
    raise TypeError(f"audit data cannot hold {type(value).__name__} values; use str, int, bool or None")


def row_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The hash of a row, given its predecessor's hash and its stored field values."""
    content = {
        "id": fields["id"],
        "occurred_at": format_timestamp(fields["occurred_at"]),
        "event": str(fields["event"]),
        "actor_id": fields["actor_id"],
        "actor_label": fields["actor_label"],
        "actor_kind": str(fields["actor_kind"]),
        "target_type": fields["target_type"],
        "target_id": fields["target_id"],
        "ip": canonical_ip(fields["ip"]),
        "data": fields["data"],
    }
    return hashlib.sha256((prev_hash + canonical_json(content)).encode("utf-8")).hexdigest()
