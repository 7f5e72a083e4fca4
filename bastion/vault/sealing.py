"""Helpers for sealing model fields: plain functions, no field descriptors.

The reports app stores each sensitive field as a BinaryField holding the output of
:func:`seal_text` (or :func:`seal_bytes`), and opens it explicitly with :func:`unseal_text`. Being
explicit keeps every decryption visible at its call site, where the audit of a staff read belongs,
and keeps plaintext from ever being loaded by accident (a descriptor would decrypt on attribute
access, in admin listings, in ``repr``, in error pages).

Text is UTF-8 encoded and never compressed before sealing: compressing attacker-influenced text
next to secrets leaks them through the ciphertext length (CRIME/BREACH-style).
"""

from __future__ import annotations

from bastion.vault.envelope import Aad, BytesLike, RowId, seal, unseal


def seal_bytes(data: BytesLike, *, key: bytes, model_label: str, field: str, row_id: RowId) -> bytes:
    """Seal ``data`` (a raw email, say) for one field of one row under the subject's data key."""
    return seal(data, key=key, aad=Aad.for_field(model_label, field, row_id))


def unseal_bytes(token: BytesLike, *, key: bytes, model_label: str, field: str, row_id: RowId) -> bytes:
    """Open a value sealed by :func:`seal_bytes` for exactly this model, field and row."""
    return unseal(token, key=key, aad=Aad.for_field(model_label, field, row_id))


def seal_text(text: str, *, key: bytes, model_label: str, field: str, row_id: RowId) -> bytes:
    """Seal ``text`` for one field of one row, e.g. ``model_label="reports.Report", field="title"``."""
    return seal_bytes(text.encode("utf-8"), key=key, model_label=model_label, field=field, row_id=row_id)


def unseal_text(token: BytesLike, *, key: bytes, model_label: str, field: str, row_id: RowId) -> str:
    """Open a value sealed by :func:`seal_text`; :class:`~bastion.vault.errors.SealError` if it won't."""
    data = unseal_bytes(token, key=key, model_label=model_label, field=field, row_id=row_id)
    # Authenticated bytes we sealed ourselves from a str: they are valid UTF-8.
    return data.decode("utf-8")
