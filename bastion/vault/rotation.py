"""Master-key rotation: a new master key version, every data key and sealed secret rewrapped under it.

Data keys are rewrapped in batches, oldest version first then in id order (the
``vault_datakey_rotation_idx`` index), one transaction per batch. A batch either commits whole or not
at all, and the old master key stays until someone retires it (:mod:`bastion.vault.keyring`), so a
rotation killed at any point leaves every data key either old-and-valid or new-and-valid. Running it
again resumes: when live data keys (or sealed secrets) are still on an older version, no version is
added and the rewrap simply carries on to the current one.

Sealed secrets (:func:`~bastion.vault.envelope.seal_secret` tokens: org key, MFA seeds, the restore
drill key) live in other apps, so each holder registers how to count and reseal its own with
:func:`register_sealed_secrets`; :func:`rotate` reseals them all after the data keys.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction
from django.db.models import QuerySet

from bastion.vault.envelope import BytesLike, open_secret, seal_secret, unwrap_data_key, wrap_data_key
from bastion.vault.errors import VaultError
from bastion.vault.keys import KeyProvider, RotatableKeyProvider, get_key_provider
from bastion.vault.models import DataKey, OrgKey
from bastion.vault.orgkey import PURPOSE as ORG_KEY_PURPOSE
from bastion.vault.orgkey import _aad as org_key_aad  # the one definition of the org key's AAD

VERSION_BYTES = 4  # seal_secret tokens start with their master version, big-endian
ORG_KEY_HOLDER = "org-key"

Progress = Callable[[int, int], None]


class RotationError(VaultError):
    """A rotation cannot start or go on; the message says what the operator can do about it."""


@dataclass(frozen=True)
class SealedSecretHolder:
    """One app's sealed secrets: how many each master version seals, and how to reseal them."""

    name: str
    versions: Callable[[], Counter[int]]
    reseal: Callable[[KeyProvider], int]


@dataclass(frozen=True)
class RotationResult:
    """What a rotation did: the version everything is now under, and how much it moved."""

    version: int
    resumed: bool
    rewrapped: int
    resealed: dict[str, int] = field(default_factory=dict)


_holders: dict[str, SealedSecretHolder] = {}


def register_sealed_secrets(
    name: str, *, versions: Callable[[], Counter[int]], reseal: Callable[[KeyProvider], int]
) -> None:
    """Make rotation, status and retirement aware of a holder of seal_secret tokens.

    ``versions()`` counts the holder's tokens per master version; ``reseal(provider)`` reseals every
    token older than ``provider.current_version()`` and returns how many it changed. Registering a
    name again replaces it (an AppConfig's ready() may run more than once in tests).
    """
    _holders[name] = SealedSecretHolder(name=name, versions=versions, reseal=reseal)


def sealed_secret_holders() -> list[SealedSecretHolder]:
    """Every registered holder, in name order."""
    return [_holders[name] for name in sorted(_holders)]


def token_version(token: BytesLike) -> int:
    """The master version a :func:`~bastion.vault.envelope.seal_secret` token was sealed under."""
    return int.from_bytes(bytes(token)[:VERSION_BYTES], "big")


def reseal_token(token: BytesLike, *, purpose: str, aad: bytes, provider: KeyProvider) -> bytes | None:
    """``token`` sealed again under the current master version, or None if it is already there."""
    if token_version(token) >= provider.current_version():
        return None
    plain = open_secret(token, purpose=purpose, aad=aad, provider=provider)
    return seal_secret(plain, purpose=purpose, aad=aad, provider=provider)


class PinnedKeys:
    """A provider's keys, fetched once each for one rotation run, with ``current`` as the current one.

    Providers keep no cache so long-lived processes see other processes' changes (see
    :mod:`bastion.vault.keys`). A rotation is one short operation that would otherwise read the
    same two keys (or run the key command) twice per data key; the pinned keys live only as long as
    this object, in the process doing the rotation.
    """

    def __init__(self, provider: KeyProvider, *, current: int) -> None:
        self.provider = provider
        self.current = current
        self._keys: dict[int, bytes] = {}
        self._versions: list[int] | None = None

    def current_version(self) -> int:
        """The version being rotated to."""
        return self.current

    def versions(self) -> list[int]:
        """The provider's versions, as they were when first asked."""
        if self._versions is None:
            self._versions = self.provider.versions()
        return self._versions

    def master_key(self, version: int) -> bytes:
        """The provider's key of ``version``, fetched on first use."""
        if version not in self._keys:
            self._keys[version] = self.provider.master_key(version)
        return self._keys[version]


def _live_below(target: int) -> QuerySet[DataKey]:
    """Live (not shredded) data keys still wrapped under a version older than ``target``."""
    return DataKey.objects.filter(destroyed_at__isnull=True, master_version__lt=target)


def pending_rewrap(target: int) -> int:
    """How many live data keys are wrapped under a version older than ``target``."""
    return _live_below(target).count()


def _stale_secrets(target: int) -> int:
    return sum(
        count
        for holder in sealed_secret_holders()
        for version, count in holder.versions().items()
        if version < target
    )


def _choose_target(provider: KeyProvider) -> tuple[int, bool]:
    """The version to rotate to, and whether this resumes an interrupted rotation."""
    current = provider.current_version()
    if pending_rewrap(current) or _stale_secrets(current):
        return current, True
    if not isinstance(provider, RotatableKeyProvider):
        raise RotationError(
            f"{type(provider).__name__} cannot add a master key version, and rotation needs one. Use "
            "versioned keys: the file provider with BASTION_MASTER_KEY_DIR (move the current key "
            "there as master-v1.key), or a BASTION_MASTER_KEY_COMMAND whose script supports `new`."
        )
    return provider.add_version(), False


def _check_old_keys_open(pinned: PinnedKeys, target: int) -> None:
    """Fail before touching anything if a version some live data key needs cannot be opened."""
    versions = _live_below(target).values_list("master_version", flat=True).distinct()
    for version in sorted(set(versions)):
        try:
            pinned.master_key(version)
        except (VaultError, ImproperlyConfigured) as exc:
            raise RotationError(
                f"live data keys are wrapped under master key version {version}, which cannot be "
                f"opened ({exc}); put that key back before rotating"
            ) from None


def _rewrap_batch(pinned: PinnedKeys, target: int, batch_size: int) -> int:
    """Rewrap up to ``batch_size`` of the oldest live data keys in one transaction; how many it did."""
    with transaction.atomic():
        # Locked rows (PostgreSQL); SQLite's IMMEDIATE transactions already hold its one write
        # lock from BEGIN. Either way a concurrent shred waits for this batch to commit, then
        # empties the key; a shred that committed first is skipped by the filter, read under lock.
        rows = list(
            _live_below(target)
            .select_for_update()
            .order_by("master_version", "id")
            .only("id", "subject", "wrapped", "master_version", "destroyed_at")[:batch_size]
        )
        for row in rows:
            plain = unwrap_data_key(
                row.wrapped, master_version=row.master_version, subject=row.subject, provider=pinned
            )
            row.wrapped = wrap_data_key(plain, master_version=target, subject=row.subject, provider=pinned)
            row.master_version = target
        _write_rewrapped(rows, target)
    return len(rows)


def _write_rewrapped(rows: list[DataKey], target: int) -> None:
    """Store the batch's new wrapped keys: one prepared UPDATE, executed for every row.

    Not ``bulk_update``: its one ``CASE WHEN`` statement per batch took about 90 % of a rotation's
    time (benchmarks/README.md). Filtered on ``destroyed_at`` as well: whatever the isolation level,
    this UPDATE can never put a wrapped key back on a row a shred has emptied.
    """
    connection = connections[DataKey.objects.db]
    quote = connection.ops.quote_name
    meta = DataKey._meta
    table, wrapped, version, key, destroyed = map(
        quote, (meta.db_table, "wrapped", "master_version", "id", "destroyed_at")
    )
    # Only identifiers from the model, quoted by the backend, are formatted in; values are parameters.
    sql = f"UPDATE {table} SET {wrapped} = %s, {version} = %s WHERE {key} = %s AND {destroyed} IS NULL"  # noqa: S608 - identifiers only
    pk = meta.pk
    assert pk is not None  # every model has one
    params = [(row.wrapped, target, pk.get_db_prep_value(row.pk, connection)) for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def rotate(
    *, provider: KeyProvider | None = None, batch_size: int | None = None, progress: Progress | None = None
) -> RotationResult:
    """Add a master key version (or resume an interrupted rotation) and rewrap everything under it.

    ``batch_size`` defaults to ``settings.VAULT_ROTATE_BATCH`` (read at call time, so tests and
    operators can change it). ``progress(done, total)`` is called after each batch of data keys.
    Resealing of registered sealed secrets follows the data keys. RotationError if the provider
    cannot add a version or an old version some data key needs is missing.
    """
    provider = provider or get_key_provider()
    batch_size = settings.VAULT_ROTATE_BATCH if batch_size is None else batch_size
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    target, resumed = _choose_target(provider)
    pinned = PinnedKeys(provider, current=target)
    _check_old_keys_open(pinned, target)
    total = pending_rewrap(target)
    done = 0
    if progress is not None:
        progress(0, total)
    while count := _rewrap_batch(pinned, target, batch_size):
        done += count
        if progress is not None:
            # Keys shredded or created meanwhile can move the real count past the first estimate.
            progress(done, max(total, done))
    resealed = {holder.name: holder.reseal(pinned) for holder in sealed_secret_holders()}
    return RotationResult(version=target, resumed=resumed, rewrapped=done, resealed=resealed)


def _org_key_versions() -> Counter[int]:
    return Counter(token_version(token) for token in OrgKey.objects.values_list("sealed_secret", flat=True))


def _reseal_org_keys(provider: KeyProvider) -> int:
    """Reseal every org key (active and retired: old mail still needs them) under the current version."""
    resealed = 0
    for pk in OrgKey.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            row = OrgKey.objects.select_for_update().get(pk=pk)  # org keys are never deleted
            aad = org_key_aad(row.fingerprint)
            token = reseal_token(row.sealed_secret, purpose=ORG_KEY_PURPOSE, aad=aad, provider=provider)
            if token is None:
                continue
            row.sealed_secret = token
            row.master_version = token_version(token)
            row.save(update_fields=["sealed_secret", "master_version"])
            resealed += 1
    return resealed


register_sealed_secrets(ORG_KEY_HOLDER, versions=_org_key_versions, reseal=_reseal_org_keys)
