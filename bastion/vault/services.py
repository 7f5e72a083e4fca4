"""Vault services: minting data keys.

The vault sits beside ``audit`` in the layering (DESIGN.md §3), so it records no audit events
itself; the ``reports`` services that call it do, inside their own transaction.
"""

from __future__ import annotations

from bastion.vault.envelope import new_data_key, wrap_data_key
from bastion.vault.keys import KeyProvider, get_key_provider
from bastion.vault.models import SUBJECT_MAX_LENGTH, DataKey


def prepare_data_key(*, subject: str, provider: KeyProvider | None = None) -> tuple[DataKey, bytes]:
    """A new data key for ``subject`` (e.g. ``"report:<uuid>"``): its unsaved row and the plain key.

    The caller saves the row inside the transaction that stores what the key seals, so they commit
    together or not at all; making and wrapping the key needs no transaction, and doing it first
    keeps the write lock short. The plain key is returned so the caller can seal the subject's
    first content without an unwrap round trip; it should not outlive that request or task.
    """
    if not 0 < len(subject) <= SUBJECT_MAX_LENGTH:
        raise ValueError(f"a data key's subject must be 1 to {SUBJECT_MAX_LENGTH} characters")
    provider = provider or get_key_provider()
    version = provider.current_version()
    plain = new_data_key()
    wrapped = wrap_data_key(plain, master_version=version, subject=subject, provider=provider)
    return DataKey(subject=subject, wrapped=wrapped, master_version=version), plain


def create_data_key(*, subject: str, provider: KeyProvider | None = None) -> tuple[DataKey, bytes]:
    """Like :func:`prepare_data_key`, with the row saved: call it inside the caller's transaction."""
    row, plain = prepare_data_key(subject=subject, provider=provider)
    row.save(force_insert=True)
    return row, plain
