"""Envelope encryption: AES-256-GCM sealing with bound AAD, and wrapping of per-report data keys.

A sealed token is ``format (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)``.

- AES-256-GCM (``cryptography``, i.e. OpenSSL): a vetted AEAD, hardware-accelerated, and what the
  stack decided on (DESIGN.md §2). 256-bit keys keep a margin against multi-target attacks.
- Random 96-bit nonces: safe up to about 2**32 messages per key. A data key seals one report's
  fields and a master key wraps one data key per report, so both stay many orders of magnitude
  below that bound, and no nonce counter has to be kept (and kept consistent) in the database.
- The format byte is authenticated too (it is prepended to the AAD), so a token can't be passed
  off as another format version once a second version exists.
- The AAD says *where* a ciphertext belongs (model, field, row; or a data key's subject and master
  version). A ciphertext copied to another row, field or report fails to open instead of showing
  one report's text in another's page.
"""

from __future__ import annotations

import secrets
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bastion.vault.errors import SealError
from bastion.vault.keys import KeyProvider, get_key_provider

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
FORMAT_V1 = b"\x01"
OVERHEAD = len(FORMAT_V1) + NONCE_BYTES + TAG_BYTES

AAD_PREFIX = b"bastion.vault.aad.v1"
# HKDF "info" labels: each derived key has one purpose, so a key can never be used under two
# algorithms or for two jobs (domain separation).
KEK_INFO = b"bastion.vault.kek.v1"
SECRET_INFO_PREFIX = b"bastion.vault.secret.v1:"

BytesLike = bytes | bytearray | memoryview
RowId = str | int | uuid.UUID


class Aad:
    """Canonical, unambiguous associated data.

    Each part is length-prefixed (4-byte big-endian length, then UTF-8), after a fixed prefix and a
    purpose name. Plain concatenation would be ambiguous: ("ab", "c") and ("a", "bc") must never
    authenticate as the same thing, or one field's ciphertext could open as another's.
    """

    @staticmethod
    def encode(purpose: str, *parts: str) -> bytes:
        """The AAD for ``purpose`` and its ordered ``parts``."""
        out = bytearray(AAD_PREFIX)
        for part in (purpose, *parts):
            data = part.encode("utf-8")
            out += len(data).to_bytes(4, "big") + data
        return bytes(out)

    @classmethod
    def for_field(cls, model_label: str, field: str, row_id: RowId) -> bytes:
        """AAD binding a sealed value to one field of one row, e.g. ``("reports.Report", "title", id)``.

        ``row_id`` must be the row's real primary key: an unsaved row's ``None`` is refused, since
        sealing under "None" would bind every such value to the same place.
        """
        if not model_label or not field or row_id is None or str(row_id) == "":
            raise ValueError("a field's AAD needs a model label, a field name and a row id")
        return cls.encode("field", model_label, field, str(row_id))

    @classmethod
    def for_data_key(cls, subject: str, master_version: int) -> bytes:
        """AAD binding a wrapped data key to its subject (``"report:<uuid>"``) and master version."""
        if not subject:
            raise ValueError("a data key needs a subject")
        return cls.encode("data-key", subject, str(int(master_version)))


def _check_key(key: bytes) -> None:
    """ValueError unless ``key`` is 32 bytes.

    A wrong length is a programming error, not a wrong key: it fails loudly, not as SealError.
    """
    if len(key) != KEY_BYTES:
        raise ValueError(f"keys are {KEY_BYTES} bytes, got {len(key)}")


def seal(plaintext: BytesLike, *, key: bytes, aad: bytes) -> bytes:
    """Encrypt and authenticate ``plaintext`` under ``key``, bound to ``aad``."""
    _check_key(key)
    # A fresh random nonce per message, from the OS CSPRNG (see the module docstring for bounds).
    nonce = secrets.token_bytes(NONCE_BYTES)
    return FORMAT_V1 + nonce + AESGCM(key).encrypt(nonce, bytes(plaintext), FORMAT_V1 + aad)


def unseal(token: BytesLike, *, key: bytes, aad: bytes) -> bytes:
    """The plaintext of ``token``, or :class:`SealError`; never unauthenticated bytes.

    Accepts ``memoryview`` as well, which is what PostgreSQL returns for a BinaryField.
    """
    _check_key(key)
    data = bytes(token)
    if len(data) < OVERHEAD or data[:1] != FORMAT_V1:
        raise SealError("not a sealed value of a known format")
    nonce, ciphertext = data[1 : 1 + NONCE_BYTES], data[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, FORMAT_V1 + aad)
    except InvalidTag:
        # One message for every cause: which one it was is no business of whoever forged it.
        raise SealError("sealed value did not authenticate (tampered, or wrong key or AAD)") from None


def new_data_key() -> bytes:
    """A fresh random 256-bit data key from the OS CSPRNG."""
    return secrets.token_bytes(KEY_BYTES)


def _key_encryption_key(master_key: bytes) -> bytes:
    """The key that wraps data keys, derived from a master key.

    HKDF-SHA256 with a fixed label, rather than the master key itself: the master key may later
    protect other things (backup manifests, say) and must never be used under two purposes.
    """
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=KEK_INFO).derive(master_key)


def wrap_data_key(
    data_key: bytes, *, master_version: int, subject: str, provider: KeyProvider | None = None
) -> bytes:
    """Seal ``data_key`` under master key ``master_version``, bound to ``subject`` and that version.

    Binding the version in the AAD means a wrapped key relabelled with another version (say, by
    a broken or malicious rotation) fails to open rather than being tried under the wrong key.
    """
    _check_key(data_key)
    provider = provider or get_key_provider()
    kek = _key_encryption_key(provider.master_key(master_version))
    return seal(data_key, key=kek, aad=Aad.for_data_key(subject, master_version))


def unwrap_data_key(
    wrapped: BytesLike, *, master_version: int, subject: str, provider: KeyProvider | None = None
) -> bytes:
    """The data key inside ``wrapped``, or :class:`SealError` if it belongs elsewhere or was altered."""
    provider = provider or get_key_provider()
    kek = _key_encryption_key(provider.master_key(master_version))
    data_key = unseal(wrapped, key=kek, aad=Aad.for_data_key(subject, master_version))
    if len(data_key) != KEY_BYTES:
        raise SealError("wrapped value is not a data key")
    return data_key


def _purpose_key(master_key: bytes, purpose: str) -> bytes:
    """A key for one named purpose, derived from a master key (HKDF-SHA256, domain-separated)."""
    info = SECRET_INFO_PREFIX + purpose.encode("utf-8")
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(master_key)


def seal_secret(plaintext: bytes, *, purpose: str, aad: bytes, provider: KeyProvider | None = None) -> bytes:
    """Seal a small, long-lived secret (a TOTP seed, the org's OpenPGP key) under the current master key.

    These secrets have no report to hang a data key on, so they go straight under a key derived
    from the master key for their ``purpose``. The token starts with the master version (4 bytes,
    big-endian), so a rotation can tell which master key opens it.
    """
    provider = provider or get_key_provider()
    version = provider.current_version()
    key = _purpose_key(provider.master_key(version), purpose)
    return version.to_bytes(4, "big") + seal(plaintext, key=key, aad=Aad.encode(purpose, *_aad_parts(aad)))


def open_secret(token: BytesLike, *, purpose: str, aad: bytes, provider: KeyProvider | None = None) -> bytes:
    """The plaintext of a :func:`seal_secret` token, or :class:`SealError`."""
    token = bytes(token)
    if len(token) < 4 + OVERHEAD:
        raise SealError("sealed secret is too short")
    provider = provider or get_key_provider()
    version = int.from_bytes(token[:4], "big")
    if version not in provider.versions():
        raise SealError(f"sealed secret needs master key version {version}, which is not available")
    key = _purpose_key(provider.master_key(version), purpose)
    return unseal(token[4:], key=key, aad=Aad.encode(purpose, *_aad_parts(aad)))


def _aad_parts(aad: bytes) -> tuple[str, ...]:
    # The caller's AAD is bytes; hex keeps it one unambiguous, length-prefixed part.
    return (aad.hex(),)
