"""Whom every archive is encrypted to: the operators' backup keys, and Bastion's own restore-drill key.

The drill key lets the daily restore drill decrypt the newest archive with no operator at hand. Its
secret half is sealed under the master key (:func:`~bastion.vault.envelope.seal_secret`) and kept
in ``VAULT_STATE_DIR`` beside the master key, never in an archive: whoever holds an archive and
not the master key learns nothing from it, and retiring a master-key version retires this copy of
the key with it unless it was resealed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings

from bastion.lib.openpgp import (
    MAX_ORG_KEY_LIFETIME,
    OpenPGPError,
    SecretKey,
    generate_org_key,
    load_secret_key,
    parse_public_key,
)
from bastion.vault._files import create_private_file, ensure_dir, fsync_dir
from bastion.vault.backup.errors import BackupError
from bastion.vault.envelope import open_secret, seal_secret
from bastion.vault.keys import KeyProvider
from bastion.vault.rotation import register_sealed_secrets

PURPOSE = "backup-drill-key"
AAD = b"bastion.backup.drill-key.v1"
FILE_NAME = "backup-drill-key.sealed"
# A renewed key's predecessor stays, as backup-drill-key.retired-<fingerprint>.sealed: archives made
# before the renewal are encrypted to it and remain restorable for as long as they are kept.
RETIRED_GLOB = "backup-drill-key.retired-*.sealed"
USER_ID = "Bastion restore drill <drill@bastion.invalid>"
# gpg refuses to encrypt to an expired key, so the key is replaced a month before it expires; the
# next backup is then encrypted to the new one, and the drill after it opens that.
RENEW_BEFORE = timedelta(days=30)


def drill_key_path() -> Path:
    """Where the sealed drill key lives: ``VAULT_STATE_DIR/backup-drill-key.sealed``."""
    return Path(settings.VAULT_STATE_DIR) / FILE_NAME


def _new_sealed(provider: KeyProvider | None) -> bytes:
    key = generate_org_key(USER_ID, expires_in=MAX_ORG_KEY_LIFETIME)
    return seal_secret(key.secret_bytes(), purpose=PURPOSE, aad=AAD, provider=provider)


def _temp_beside(path: Path, token: bytes) -> Path:
    ensure_dir(path.parent)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = create_private_file(temp)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(token)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _create(path: Path, provider: KeyProvider | None) -> None:
    """Store a new drill key unless another process just did (temp file + link: never half-written)."""
    temp = _temp_beside(path, _new_sealed(provider))
    try:
        os.link(temp, path)
        fsync_dir(path.parent)
    except FileExistsError:
        pass  # a concurrent process won; its key is the one
    finally:
        temp.unlink(missing_ok=True)


def _replace(path: Path, token: bytes) -> None:
    """Atomically swap in a new sealed token: readers see the old file or the new, never a part."""
    temp = _temp_beside(path, token)
    try:
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _open(token: bytes, provider: KeyProvider | None) -> SecretKey:
    return load_secret_key(open_secret(token, purpose=PURPOSE, aad=AAD, provider=provider))


def drill_key(*, provider: KeyProvider | None = None) -> SecretKey:
    """The restore-drill secret key: made and stored on first use, renewed shortly before it expires."""
    path = drill_key_path()
    if not path.exists():
        _create(path, provider)
    key = _open(path.read_bytes(), provider)
    if key.expires_at is not None and key.expires_at - datetime.now(UTC) < RENEW_BEFORE:
        kept = path.with_name(f"backup-drill-key.retired-{key.fingerprint}.sealed")
        with contextlib.suppress(FileExistsError):  # a concurrent renewal kept it already
            os.link(path, kept)
        _replace(path, _new_sealed(provider))
        key = _open(path.read_bytes(), provider)
    return key


def _all_drill_key_files() -> list[Path]:
    """The current drill key's file, then its retired predecessors' (those that exist)."""
    current = drill_key_path()
    retired = sorted(current.parent.glob(RETIRED_GLOB)) if current.parent.is_dir() else []
    return [p for p in [current, *retired] if p.exists()]


def drill_secret_keys(*, provider: KeyProvider | None = None) -> list[str]:
    """Every drill key that may open an archive (the current one first), armored, for decryption."""
    keys = [drill_key(provider=provider).armored_secret()]
    keys.extend(_open(path.read_bytes(), provider).armored_secret() for path in _all_drill_key_files()[1:])
    return keys


def drill_key_version() -> int | None:
    """The master-key version the stored drill key is sealed under; None if there is no drill key yet."""
    return _sealed_version(drill_key_path())


def _sealed_version(path: Path) -> int | None:
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except FileNotFoundError:
        return None
    if len(head) != 4:
        raise BackupError(f"{path} is damaged (too short); delete it and a new drill key is made")
    return int.from_bytes(head, "big")


def reseal_drill_key(*, provider: KeyProvider) -> bool:
    """Reseal the drill key under ``provider``'s current master version if it is older; True if it changed.

    Key rotation calls this before retiring an old version, so the drill key survives the retirement.
    """
    changed = False
    for path in _all_drill_key_files():
        token = path.read_bytes()
        if int.from_bytes(token[:4], "big") >= provider.current_version():
            continue
        plain = open_secret(token, purpose=PURPOSE, aad=AAD, provider=provider)
        _replace(path, seal_secret(plain, purpose=PURPOSE, aad=AAD, provider=provider))
        changed = True
    return changed


def export_drill_key() -> str:
    """The drill key's armored secret, for an operator who wants to keep it offline as well."""
    return drill_key().armored_secret()


def backup_recipients() -> list[str]:
    """Armored public keys every archive is encrypted to: the drill key, then ``BACKUP_RECIPIENTS``' files.

    Each configured file must hold one public key we can encrypt to now; otherwise a
    :class:`BackupError` names the file and says what is wrong with it.
    """
    keys = {}
    drill = drill_key().public
    keys[drill.fingerprint] = drill.armored_public()
    for configured in settings.BACKUP_RECIPIENTS:
        path = Path(configured)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BackupError(
                f"backup recipient key file {path} does not exist (BASTION_BACKUP_RECIPIENTS)"
            ) from None
        except OSError as exc:
            raise BackupError(f"backup recipient key file {path} cannot be read: {exc.strerror}") from None
        try:
            key = parse_public_key(data)
        except OpenPGPError as exc:
            raise BackupError(f"backup recipient key file {path}: {exc}") from None
        keys.setdefault(key.fingerprint, key.armored_public())
    return list(keys.values())


def _drill_key_versions() -> Counter[int]:
    versions = (_sealed_version(path) for path in _all_drill_key_files())
    return Counter(version for version in versions if version is not None)


# A key rotation reseals the drill key too, so retiring an old master version never strands it.
register_sealed_secrets(
    "drill-key",
    versions=_drill_key_versions,
    reseal=lambda provider: int(reseal_drill_key(provider=provider)),  # one holder: 1 if resealed
)
