"""Sealing the reports app's fields under a report's data key, bound to model, field and row.

Every sealed row carries a random ``uid``, which is what the AAD binds to: unlike the integer
primary key it is known before the INSERT, so a row is sealed once, in its final form, and never
updated from plaintext to ciphertext. A sealed value copied to another row, field or report fails
to open (:class:`~bastion.vault.errors.SealError`) rather than showing one report's text in another.

``None`` stays ``None`` (a field that was not given): sealing nothing would only store the fact
that it is empty, which the NULL already says.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Protocol

from bastion.vault.envelope import Aad, BytesLike
from bastion.vault.sealing import seal_text, unseal_text


class SealedRow(Protocol):
    """A model instance with a ``uid`` (all the reports app's sealed models)."""

    uid: uuid.UUID

    @property
    def _meta(self) -> Any: ...


def seal_field(row: SealedRow, field: str, value: str | None, *, key: bytes) -> bytes | None:
    """The sealed form of ``value`` for ``row.<field>``; None for None."""
    if value is None:
        return None
    return seal_text(value, key=key, model_label=row._meta.label, field=field, row_id=row.uid)


def open_field(row: SealedRow, field: str, *, key: bytes) -> str | None:
    """The plaintext of ``row.<field>``; None if it was never set."""
    token: BytesLike | None = getattr(row, field)
    if token is None:
        return None
    # bytes(): PostgreSQL hands a BinaryField back as memoryview.
    return unseal_text(bytes(token), key=key, model_label=row._meta.label, field=field, row_id=row.uid)


def seal_json(row: SealedRow, field: str, value: dict[str, Any], *, key: bytes) -> bytes:
    """Seal a small JSON object (sorted keys, compact) for ``row.<field>``."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return seal_text(text, key=key, model_label=row._meta.label, field=field, row_id=row.uid)


def open_json(row: SealedRow, field: str, *, key: bytes) -> dict[str, Any]:
    """The JSON object sealed in ``row.<field>`` ({} if it was never set)."""
    text = open_field(row, field, key=key)
    value = json.loads(text) if text is not None else {}
    if not isinstance(value, dict):
        raise TypeError(f"{row._meta.label}.{field} does not hold a JSON object")
    return value


def stream_aad(row: SealedRow, field: str) -> bytes:
    """The AAD binding a sealed blob (a file's content) to its row, like a field's."""
    return Aad.for_field(row._meta.label, field, row.uid)
