"""The master keys' state (``bastion keys status``) and the rule for retiring old versions.

Retirement rule: master key version V may be destroyed when

1. V is not the current version;
2. no live (not shredded) data key is wrapped under V, and no registered sealed secret uses V;
3. no catalogued archive that may still exist holds a data key wrapped under V: no ``vault.Backup``
   still running, and none with a copy that is not pruned (a stored copy, or a failed one whose
   outcome is unknown), lists V in its ``master_versions``.

Once V is gone, every archive made while V was current is unreadable for its data keys, so a report
shredded since cannot come back from such an archive. Until then, the retention of the longest-kept
destination bounds how long it can.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Exists, OuterRef, Q

from bastion.vault.errors import VaultError
from bastion.vault.keys import KeyProvider, RetirableKeyProvider, get_key_provider
from bastion.vault.models import Backup, BackupCopy, BackupState, CopyState, DataKey, OrgKey
from bastion.vault.rotation import sealed_secret_holders, token_version


class RetirementRefused(VaultError):
    """A master key version may not be retired; the message gives the reason for each one."""


@dataclass(frozen=True)
class VersionStatus:
    """One master key version: what still depends on it, and whether it may be retired."""

    version: int
    current: bool
    available: bool
    live_data_keys: int = 0
    destroyed_data_keys: int = 0
    sealed_secrets: dict[str, int] = field(default_factory=dict)
    archives: list[str] = field(default_factory=list)
    # Empty when the version is retirable; otherwise why not, in words an operator can act on.
    blocked_by: str = ""

    @property
    def retirable(self) -> bool:
        """True when the retirement rule allows destroying this version now."""
        return not self.blocked_by


@dataclass(frozen=True)
class OrgKeyStatus:
    """The active org OpenPGP key, as status shows it."""

    fingerprint: str
    expires_at: datetime | None
    master_version: int


@dataclass(frozen=True)
class KeyStatus:
    """Everything ``bastion keys status`` shows."""

    provider: str
    current_version: int | None
    versions: list[VersionStatus]
    org_key: OrgKeyStatus | None
    pending_rewrap: int

    @property
    def retirable(self) -> list[int]:
        """The versions that may be retired now."""
        return [entry.version for entry in self.versions if entry.retirable]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (datetimes in ISO 8601)."""
        data = asdict(self)
        for entry, version in zip(data["versions"], self.versions, strict=True):
            entry["retirable"] = version.retirable
        if self.org_key is not None and self.org_key.expires_at is not None:
            data["org_key"]["expires_at"] = self.org_key.expires_at.isoformat()
        data["retirable"] = self.retirable
        return data


def _opens(provider: KeyProvider, version: int) -> bool:
    try:
        provider.master_key(version)
    except (VaultError, ImproperlyConfigured):
        return False
    return True


def _archives_by_version() -> dict[int | None, list[str]]:
    """Names of catalogued archives that may still exist, per master version they hold.

    A running backup whose versions are not written down yet is filed under ``None``: it may hold
    any version, so it blocks them all until it finishes.
    """
    # A failed copy may still exist (an upload whose answer timed out): only a listing that shows
    # it gone marks it pruned (reports.services.backups reconciles after each prune).
    kept_copy = BackupCopy.objects.filter(backup=OuterRef("pk")).exclude(state=CopyState.PRUNED)
    may_exist = Backup.objects.filter(Q(state=BackupState.RUNNING) | Q(Exists(kept_copy)))
    found: dict[int | None, list[str]] = {}
    # JSON "contains" is not portable (SQLite has none), and the catalogue is small: filter here.
    for name, versions in may_exist.order_by("started_at", "id").values_list("name", "master_versions"):
        held: set[int | None] = {int(v) for v in versions or []}
        for version in held or {None}:
            found.setdefault(version, []).append(name)
    return found


def _blocked_by(entry: VersionStatus, running_unknown: list[str]) -> str:
    if entry.current:
        return "it is the current version"
    if not entry.available:
        return "the provider cannot open it (already retired or missing)"
    if entry.live_data_keys:
        return f"{entry.live_data_keys} live data keys are wrapped under it: run `bastion keys rotate`"
    holders = ", ".join(f"{name} ({count})" for name, count in entry.sealed_secrets.items())
    if holders:
        return f"sealed secrets still use it: {holders}; run `bastion keys rotate`"
    archives = entry.archives or running_unknown
    if archives:
        return (
            f"{len(archives)} catalogued archives that may still exist hold keys wrapped under it "
            f"(oldest: {archives[0]}); it becomes retirable once they are pruned"
        )
    return ""


def key_status(*, provider: KeyProvider | None = None) -> KeyStatus:
    """The state of every master key version known to the provider or still referenced anywhere."""
    provider = provider or get_key_provider()
    available = provider.versions()
    # Not current_version() on an empty provider: a status query must not generate a key.
    current = provider.current_version() if available else None
    counts = DataKey.objects.values("master_version").annotate(
        live=Count("id", filter=Q(destroyed_at__isnull=True)),
        destroyed=Count("id", filter=Q(destroyed_at__isnull=False)),
    )
    data_keys = {row["master_version"]: (row["live"], row["destroyed"]) for row in counts}
    sealed: dict[int, dict[str, int]] = {}
    for holder in sealed_secret_holders():
        for version, count in holder.versions().items():
            if count:
                sealed.setdefault(version, {})[holder.name] = count
    archives = _archives_by_version()
    running_unknown = archives.pop(None, [])
    known = sorted(set(available) | set(data_keys) | set(sealed) | {v for v in archives if v is not None})
    entries = []
    for version in known:
        live, destroyed = data_keys.get(version, (0, 0))
        entry = VersionStatus(
            version=version,
            current=version == current,
            available=version in available and _opens(provider, version),
            live_data_keys=live,
            destroyed_data_keys=destroyed,
            sealed_secrets=sealed.get(version, {}),
            archives=archives.get(version, []),
        )
        entries.append(replace(entry, blocked_by=_blocked_by(entry, running_unknown)))
    pending = sum(live for version, (live, _) in data_keys.items() if current and version < current)
    return KeyStatus(
        provider=type(provider).__name__,
        current_version=current,
        versions=entries,
        org_key=_org_key_status(),
        pending_rewrap=pending,
    )


def _org_key_status() -> OrgKeyStatus | None:
    row = OrgKey.objects.filter(active=True).only("fingerprint", "expires_at", "sealed_secret").first()
    if row is None:
        return None
    return OrgKeyStatus(
        fingerprint=row.fingerprint,
        expires_at=row.expires_at,
        master_version=token_version(row.sealed_secret),
    )


def retirable_versions(*, provider: KeyProvider | None = None) -> list[int]:
    """The master key versions the retirement rule allows destroying now."""
    return key_status(provider=provider).retirable


def retire_versions(
    *,
    provider: KeyProvider | None = None,
    versions: list[int] | None = None,
    on_retired: Callable[[int], None] | None = None,
) -> list[int]:
    """Destroy ``versions`` (default: every retirable one) and return those destroyed.

    All or nothing on the rule: if any version asked for is not retirable, RetirementRefused names
    each with its reason and nothing is destroyed. ``on_retired(version)`` runs right after each
    version is destroyed (the command records its audit event there; the vault records none).
    """
    provider = provider or get_key_provider()
    status = key_status(provider=provider)
    by_version = {entry.version: entry for entry in status.versions}
    wanted = status.retirable if versions is None else sorted(set(versions))
    refused = [
        f"version {v}: {by_version[v].blocked_by if v in by_version else 'there is no such version'}"
        for v in wanted
        if v not in by_version or not by_version[v].retirable
    ]
    if refused:
        raise RetirementRefused("cannot retire master key " + "; ".join(refused))
    if not wanted:
        return []
    if not isinstance(provider, RetirableKeyProvider):
        raise RetirementRefused(
            f"{type(provider).__name__} cannot destroy key versions: remove version(s) "
            f"{', '.join(map(str, wanted))} from where that provider keeps them yourself"
        )
    retired = []
    for version in wanted:
        provider.retire(version)
        retired.append(version)
        if on_retired is not None:
            on_retired(version)
    return retired
