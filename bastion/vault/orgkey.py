"""The organisation's OpenPGP key: generated lazily on first use, stored sealed, one active at a time.

Reporters encrypt to this key (``/.well-known/security-key.asc``), and Bastion signs receipts and
security.txt with it. Its secret half is sealed with :func:`~bastion.vault.envelope.seal_secret`:
AES-256-GCM under a key derived with HKDF-SHA256 from the current master key for the purpose
:data:`PURPOSE` (so that key serves nothing else), bound by AAD to the key's fingerprint (so a
sealed key copied onto another row does not open).

Generation is lazy, not a data migration: every test database and every ``migrate`` would pay for
a key it may never use. ``bastion run`` generates it at start through the intake service, which
records the audit event; the vault itself never imports ``audit`` (layering), so callers that want
the event pass ``on_created``, called inside the transaction that stores the key.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, transaction

from bastion.lib import lean
from bastion.lib.openpgp import PublicKey, SecretKey, generate_org_key, load_public_key, load_secret_key
from bastion.vault.envelope import Aad, open_secret, seal_secret
from bastion.vault.errors import SealError
from bastion.vault.keys import KeyProvider
from bastion.vault.models import OrgKey

PURPOSE = "org-openpgp-key"
OnCreated = Callable[[OrgKey], None]

# Public keys parsed once per process, by fingerprint. Keyed by fingerprint (and the active
# fingerprint read from the database on each call), so a rotation done by another process is
# seen at once, and a stale entry is merely unused. Only public material is cached: the secret key
# is unsealed per use, like data keys (see DataKey.unwrap).
_public_keys: dict[str, PublicKey] = {}
_public_keys_lock = threading.Lock()
# Opened secret keys by (row, sealed bytes): unsealing and parsing cost ~3.8 ms, paid by every
# submission for its receipt. Keyed by the sealed bytes too, so an altered row is opened afresh (and
# refused) instead of being answered from memory. The key is in this process's memory while it
# signs anyway; keeping it there between requests adds no new place for it to leak from.
_secret_keys: dict[tuple[int, bytes], SecretKey] = {}


def org_key_user_id() -> str:
    """The User ID the org key is generated with, e.g. ``Bastion security team <security@...>``."""
    return f"{settings.SITE_NAME} security team <{settings.DEFAULT_FROM_EMAIL}>"


def _aad(fingerprint: str) -> bytes:
    return Aad.encode("org-key", fingerprint)


def _open(row: OrgKey, provider: KeyProvider | None) -> SecretKey:
    """The secret key sealed in ``row``; :class:`SealError` if it was altered or moved."""
    plain = open_secret(row.sealed_secret, purpose=PURPOSE, aad=_aad(row.fingerprint), provider=provider)
    key = load_secret_key(plain)
    if key.fingerprint != row.fingerprint:  # the AAD makes this impossible; say so loudly if not
        raise SealError("the sealed org key does not match its row's fingerprint")
    return key


def _active_row() -> OrgKey | None:
    # Read on every signature and decryption (a rotation must take effect at once): the lean read.
    return lean.get(OrgKey, active=True)


def ensure_org_key(
    *, on_created: OnCreated | None = None, provider: KeyProvider | None = None
) -> tuple[SecretKey, bool]:
    """The active org key, generating and storing one if there is none; ``(key, created)``.

    Race: two processes may both find no key and both generate one. Generation runs outside any
    transaction of ours (sqop takes tens of milliseconds, and under SQLite's IMMEDIATE mode an open
    transaction holds the database's only write lock all that time); then each tries to insert an
    active row. The partial unique constraint ``vault_orgkey_one_active`` lets exactly one insert
    commit (PostgreSQL makes the second wait for the first and then fail; SQLite serialises them);
    the loser discards its key, which was never stored, and returns the winner's. No
    SELECT FOR UPDATE could do this: there is no row to lock until one exists.

    ``on_created(row)`` runs inside the inserting transaction, so whatever it writes (the audit
    event) commits with the key or not at all.
    """
    row = _active_row()
    if row is not None:
        if provider is not None:  # a caller with its own keys (tests, rotation) opens afresh
            return _open(row, provider), False
        cache_key = (row.pk, hashlib.sha256(bytes(row.sealed_secret)).digest())
        with _public_keys_lock:
            cached = _secret_keys.get(cache_key)
        if cached is None:
            cached = _open(row, provider)
            with _public_keys_lock:
                _secret_keys.clear()  # one active key at a time: drop a replaced one
                _secret_keys[cache_key] = cached
        return cached, False
    key = generate_org_key(org_key_user_id())
    sealed = seal_secret(key.secret_bytes(), purpose=PURPOSE, aad=_aad(key.fingerprint), provider=provider)
    # seal_secret's token starts with the master version it used (4 bytes, big-endian). Reading it
    # back, rather than asking the provider again, can't disagree with the token after a rotation.
    master_version = int.from_bytes(sealed[:4], "big")
    try:
        with transaction.atomic():
            row = OrgKey.objects.create(
                fingerprint=key.fingerprint,
                armored_public=key.armored_public(),
                sealed_secret=sealed,
                master_version=master_version,
                expires_at=key.expires_at,
                active=True,
            )
            if on_created is not None:
                on_created(row)
    except IntegrityError:
        winner = _active_row()
        if winner is None:  # not the race we expected: let the real error through
            raise
        return _open(winner, provider), False
    return key, True


def get_org_key(*, on_created: OnCreated | None = None, provider: KeyProvider | None = None) -> SecretKey:
    """The active org secret key, for signing and decrypting (generated on first use)."""
    return ensure_org_key(on_created=on_created, provider=provider)[0]


def get_org_public_key(*, on_created: OnCreated | None = None) -> PublicKey:
    """The active org public key (generated on first use); parsed once per process per key."""
    found = OrgKey.objects.filter(active=True).values_list("fingerprint", "armored_public").first()
    if found is None:
        return get_org_key(on_created=on_created).public
    fingerprint, armored = found
    with _public_keys_lock:
        cached = _public_keys.get(fingerprint)
    if cached is not None:
        return cached
    key = load_public_key(armored)
    if key.fingerprint != fingerprint:
        raise SealError("the stored org public key does not match its row's fingerprint")
    with _public_keys_lock:
        _public_keys[fingerprint] = key
    return key
