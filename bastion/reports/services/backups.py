"""Backups, restore drills and restores, with their audit trail: the vault's machinery, run for reports.

The vault does the work that knows nothing of reports (a database snapshot, the OpenPGP-encrypted
archive, the destinations, pruning); this module strings it together, records each run in the
catalogue (``vault.Backup``), audits it, and proves archives by restoring them, which needs to
know what a report is (:mod:`bastion.reports.restore_checks`).

Order of a run, and why:

1. snapshot the database, then archive it with every sealed file. Blobs are written before the
   row that names them commits and are never changed, so every file the snapshot names is there;
   files newer than the snapshot are harmless extras;
2. write the archive once into the work dir, then copy it to each destination; one destination
   failing does not stop the others, and the run counts as stored if any copy landed;
3. prune each destination that took the new copy, never the new archive itself: a failed run
   prunes nothing, so it can never cost an older good archive.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.utils import load_backend
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.services import ActorArg, Target, record, verify_chain
from bastion.reports.models import Attachment, Message, Report
from bastion.reports.restore_checks import RestoreCheckFailed, check_restored
from bastion.reports.services.shredding import enforce_shred_ledger
from bastion.vault._files import private_dir
from bastion.vault.backup.archive import (
    BackupError,
    Manifest,
    NewerArchive,
    WrittenArchive,
    read_archive,
    write_archive,
)
from bastion.vault.backup.destinations import (
    Destination,
    DestinationError,
    DirectoryDestination,
    StoredCopy,
    archive_name,
    archive_time,
    configured_destinations,
)
from bastion.vault.backup.recipients import backup_recipients, drill_key_path, drill_secret_keys
from bastion.vault.backup.retention import prune
from bastion.vault.backup.snapshot import (
    Snapshot,
    database_has_data,
    restore_database,
    scratch_database,
    snapshot_database,
)
from bastion.vault.keyring import RetirementRefused, retire_versions
from bastion.vault.keys import get_key_provider
from bastion.vault.models import Backup, BackupCopy, BackupState, CopyState, DataKey, RestoreDrill
from bastion.vault.shredding import shred_ledger
from bastion.vault.storage import FileSystemBlobStorage

logger = logging.getLogger(__name__)

DRILL_ALIAS = "restore_drill"


class RestoreRefused(BackupError):
    """The restore would overwrite live data, and ``force`` was not given."""


@dataclass(frozen=True)
class BackupOutcome:
    """One run: its catalogue row, the copies that failed (destination name -> error), what was pruned."""

    backup: Backup
    failed: dict[str, str]
    pruned: dict[str, list[str]]


def _versions_in_use() -> set[int]:
    """The master-key versions wrapping some live data key."""
    live = DataKey.objects.filter(destroyed_at__isnull=True).order_by("master_version")
    versions: set[int] = set()
    # One step down the rotation index per version (there are a handful) rather than reading every
    # key: at 100,000 keys a DISTINCT over the table took ~0.3 s, this ~1 ms.
    while True:
        above = live.filter(master_version__gt=max(versions, default=-1))
        found = above.values_list("master_version", flat=True).first()
        if found is None:
            return versions
        versions.add(found)


def _facts(versions: set[int]) -> dict[str, object]:
    """Counts and versions for the manifest (never content)."""
    return {
        "counts": {
            "reports": Report.objects.count(),
            "messages": Message.objects.count(),
            "attachments": Attachment.objects.count(),
            "data_keys": DataKey.objects.count(),
        },
        "master_versions": sorted(versions),
        "migrations": _applied_migrations(),
    }


def _applied_migrations(alias: str = "default") -> dict[str, str]:
    """The newest applied migration of each app: what a restore compares with the code it runs."""
    loader = MigrationLoader(connections[alias], ignore_no_migrations=True)
    newest: dict[str, str] = {}
    for app, name in sorted(loader.applied_migrations):
        newest[app] = max(newest.get(app, name), name)
    return newest


def run_backup(*, actor: ActorArg, destinations: Sequence[Destination] | None = None) -> BackupOutcome:
    """Take a backup to every configured destination, prune old archives, and audit the run.

    Raises :class:`BackupError` (after recording the failed run) when no copy could be made at all;
    a run where some destinations failed returns, with those failures in the outcome.
    """
    destinations = list(configured_destinations() if destinations is None else destinations)
    if not destinations:
        raise BackupError("no backup destination is configured: set BASTION_BACKUP_TO")
    now = timezone.now()
    _close_interrupted_runs(now)
    backup = Backup.objects.create(name=archive_name(now), started_at=now)
    work = Path(settings.BACKUP_WORK_DIR) / f"backup-{uuid.uuid4().hex}"
    failed: dict[str, str] = {}
    pruned: dict[str, list[str]] = {}
    in_place: Path | None = None
    try:
        private_dir(work)
        before = _versions_in_use()
        snapshot = snapshot_database(work)
        # Versions in use before or after the snapshot: a rotation running meanwhile could have
        # moved keys on, and the catalogue must never under-state what the archive holds.
        facts = _facts(before | _versions_in_use())
        written, path, direct = _write_once(backup, work, destinations, snapshot=snapshot, facts=facts)
        in_place = path if direct is not None else None
        snapshot.path.unlink(missing_ok=True)
        backup.size, backup.sha256 = written.size, written.sha256
        backup.manifest = written.manifest.summary()
        backup.master_versions = list(written.manifest.master_versions)
        backup.save(update_fields=["size", "sha256", "manifest", "master_versions"])
        if direct is not None:
            # Catalogued before anything else can stop the run: an archive key retirement does not
            # know of could be the one a later restore needs.
            _catalogue_copy(backup, direct, StoredCopy(location=str(path), retain_until=None))
            in_place = None
        for destination in destinations:
            if destination is direct:
                continue
            error = _store_copy(backup, destination, path)
            if error:
                failed[destination.name] = error
    except BaseException as error:
        # Whatever stopped the run (a full disk, a damaged drill key, Ctrl-C), it must not stay
        # "running": such a row blocks every master-key retirement (see vault.keyring). An archive
        # written in place but never catalogued goes too, so nothing exists the catalogue misses.
        if in_place is not None:
            in_place.unlink(missing_ok=True)
        # Our own errors are written for operators; anything else is named by its class only, since
        # its message could quote data and this lands in the audit trail.
        ours = isinstance(error, (BackupError, DestinationError, OSError))
        text = (str(error) if ours else "") or type(error).__name__
        _finish(backup, BackupState.FAILED, error=text)
        record(event=Event.BACKUP_FAILED, actor=actor, target=backup, data={"error": text[:500]})
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if len(failed) == len(destinations):
        message = "; ".join(f"{name}: {error}" for name, error in failed.items())
        _finish(backup, BackupState.FAILED, error=message)
        record(event=Event.BACKUP_FAILED, actor=actor, target=backup, data={"failed": sorted(failed)})
        raise BackupError(f"the backup reached no destination: {message}")
    _finish(backup, BackupState.STORED, error="; ".join(f"{n}: {e}" for n, e in failed.items()))
    data = {"size": backup.size, "stored": len(destinations) - len(failed), "failed": sorted(failed)}
    record(event=Event.BACKUP_CREATED, actor=actor, target=backup, data=data)
    for destination in destinations:
        if destination.name not in failed:
            pruned[destination.name] = _prune(destination, keep_also=backup.name, actor=actor)
    return BackupOutcome(backup=backup, failed=failed, pruned=pruned)


# A run still "running" after this long was killed (OOM, a reboot, a re-queued task).
INTERRUPTED_AFTER = timedelta(hours=12)


def _close_interrupted_runs(now: datetime) -> None:
    """Mark runs that can no longer be running as failed; their versions were never catalogued.

    A run writes its versions before its first copy, so a run interrupted before that left no
    copy anywhere, and one interrupted after is catalogued with its versions and copies.
    """
    Backup.objects.filter(state=BackupState.RUNNING, started_at__lt=now - INTERRUPTED_AFTER).update(
        state=BackupState.FAILED, finished_at=now, error="interrupted: the run never finished"
    )


def _write_once(
    backup: Backup,
    work: Path,
    destinations: Sequence[Destination],
    *,
    snapshot: Snapshot,
    facts: dict[str, object],
) -> tuple[WrittenArchive, Path, Destination | None]:
    """Write the archive once: straight into the first usable directory destination, else the work dir.

    Writing in place saves a whole copy of the archive (about a third of a run, measured in
    benchmarks/README.md); the other destinations copy from it. ``write_archive`` lands a file
    whole or not at all, so a failed write there leaves that directory as it was; the run then
    records that copy as failed and writes into the work dir for the rest.
    """
    recipients = backup_recipients()

    def write(target: Path) -> WrittenArchive:
        blobs = Path(settings.VAULT_BLOB_DIR)
        return write_archive(target, snapshot=snapshot, blob_dir=blobs, recipients=recipients, facts=facts)

    for destination in destinations:
        if not isinstance(destination, DirectoryDestination):
            continue
        try:
            destination.check()
            target = destination.path / backup.name
            return write(target), target, destination
        except (BackupError, DestinationError, OSError) as error:
            BackupCopy.objects.create(
                backup=backup, destination=destination.name, state=CopyState.FAILED, error=str(error)
            )
        break
    target = work / backup.name
    return write(target), target, None


def _finish(backup: Backup, state: str, *, error: str = "") -> None:
    backup.state, backup.error, backup.finished_at = state, error, timezone.now()
    backup.save(update_fields=["state", "error", "finished_at"])


def _store_copy(backup: Backup, destination: Destination, path: Path) -> str:
    """Copy the archive to one destination and catalogue it; the error text, or "" on success."""
    if BackupCopy.objects.filter(backup=backup, destination=destination.name).exists():
        return "the archive could not be written there"  # the in-place write already failed
    try:
        destination.check()
        stored = destination.store(path, backup.name)
    except (DestinationError, OSError) as error:
        BackupCopy.objects.create(
            backup=backup, destination=destination.name, state=CopyState.FAILED, error=str(error)
        )
        return str(error) or type(error).__name__
    _catalogue_copy(backup, destination, stored)
    return ""


def _reconcile(destination: Destination, present: Sequence[str]) -> None:
    """Mark the destination's catalogued copies it no longer holds as pruned.

    Copies that failed but may exist (an upload whose answer timed out), and copies pruned after a
    restored snapshot was taken, keep blocking key retirement until a listing shows them gone.
    """
    gone = BackupCopy.objects.filter(destination=destination.name).exclude(state=CopyState.PRUNED)
    gone.exclude(backup__name__in=list(present)).update(state=CopyState.PRUNED, pruned_at=timezone.now())


def _catalogue_copy(backup: Backup, destination: Destination, stored: StoredCopy) -> None:
    BackupCopy.objects.create(
        backup=backup,
        destination=destination.name,
        location=stored.location,
        state=CopyState.STORED,
        stored_at=timezone.now(),
        retain_until=stored.retain_until,
    )


def _prune(destination: Destination, *, keep_also: str, actor: ActorArg) -> list[str]:
    """Apply the destination's retention, never touching the archive just written nor the newest verified one.

    The new archive is not drilled yet: keeping the newest one a drill passed means a run of bad
    archives can never thin out the last good one. A listing or delete failure is reported in the
    catalogue's terms (nothing pruned) rather than failing a backup that was stored.
    """
    verified = (
        RestoreDrill.objects.filter(ok=True, backup__isnull=False)
        .values_list("backup__name", flat=True)
        .first()
    )
    protect = {keep_also, *([verified] if verified else [])}
    try:
        result = prune(destination, now=timezone.now(), protect=protect)
        _reconcile(destination, destination.archives())
    except (DestinationError, OSError) as error:
        logger.warning("Pruning %s failed: %s", destination.name, error)
        return []
    if result.deleted:
        BackupCopy.objects.filter(destination=destination.name, backup__name__in=result.deleted).update(
            state=CopyState.PRUNED, pruned_at=timezone.now()
        )
        data = {"destination": destination.name, "deleted": len(result.deleted), "failed": len(result.failed)}
        record(event=Event.BACKUP_PRUNED, actor=actor, target=Target(type="vault.destination"), data=data)
    return list(result.deleted)


# --- restore drills ------------------------------------------------------------------------------


def newest_archive(destinations: Sequence[Destination]) -> tuple[str, Destination] | None:
    """The newest archive held anywhere, and a destination holding it (directories first: no download)."""
    found: list[tuple[datetime, int, str, Destination]] = []
    for order, destination in enumerate(destinations):
        try:
            names = destination.archives()
        except DestinationError:
            continue
        for name in names:
            when = archive_time(name)
            if when is not None:
                found.append((when, -order, name, destination))
    if not found:
        return None
    _when, _order, name, destination = max(found, key=lambda item: (item[0], item[1]))
    return name, destination


def run_restore_drill(*, actor: ActorArg, destinations: Sequence[Destination] | None = None) -> RestoreDrill:
    """Restore the newest archive into scratch space and prove it; record and audit the result.

    Checks: the archive decrypts with the drill key and every member matches the manifest's hash;
    the database restores; the shred ledger applies; every sealed value, message and attachment
    opens (and each file matches its recorded hash); the audit chain verifies. The first failure
    ends the drill, in words on the admin screen. A drill never touches the live data.
    """
    destinations = list(configured_destinations() if destinations is None else destinations)
    newest = newest_archive(destinations)
    if newest is None:
        drill = RestoreDrill.objects.create(archive="(none)", finished_at=timezone.now(), ok=False)
        return _fail_drill(drill, actor, "no archive was found in any backup destination")
    name, destination = newest
    drill = RestoreDrill.objects.create(
        archive=destination.locate(name), backup=Backup.objects.filter(name=name).first()
    )
    work = private_dir(Path(settings.BACKUP_WORK_DIR) / f"drill-{uuid.uuid4().hex}")
    try:
        archive = destination.fetch(name, work)
        restored = work / "restored"
        manifest = read_archive(archive, into=restored, secret_keys=drill_secret_keys(), work_dir=work)
        checked = _prove(manifest, restored, work)
    except (BackupError, DestinationError, RestoreCheckFailed, OSError) as error:
        return _fail_drill(drill, actor, str(error) or type(error).__name__)
    except Exception as error:
        logger.error("The restore drill failed unexpectedly: %s", type(error).__name__)
        # Only the class: an unexpected message might quote data, and this lands in the audit trail.
        return _fail_drill(drill, actor, f"unexpected {type(error).__name__}; see the worker's log")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    drill.ok, drill.checked, drill.finished_at = True, checked, timezone.now()
    drill.save(update_fields=["ok", "checked", "finished_at"])
    record(
        event=Event.BACKUP_DRILL_PASSED, actor=actor, target=drill, data={"archive": name, **_brief(checked)}
    )
    return drill


def _brief(checked: dict[str, object]) -> dict[str, object]:
    rows = checked.get("rows", {})
    return {"rows": sum(rows.values()) if isinstance(rows, dict) else 0, "files": checked.get("files", 0)}


def _fail_drill(drill: RestoreDrill, actor: ActorArg, error: str) -> RestoreDrill:
    drill.ok, drill.error, drill.finished_at = False, error[:2000], timezone.now()
    drill.save(update_fields=["ok", "error", "finished_at"])
    record(event=Event.BACKUP_DRILL_FAILED, actor=actor, target=drill, data={"error": error[:500]})
    return drill


def _prove(manifest: Manifest, restored: Path, work: Path) -> dict[str, object]:
    """Restore ``manifest``'s database into a scratch database and check everything in it."""
    with scratch_database(work, engine=manifest.engine) as scratch:
        restore_database(
            restored / manifest.database, engine=manifest.engine, settings_dict=scratch, move=True
        )
        # A connection made for the drill alone, never entered in the project's DATABASES: nothing
        # else (a router, another thread, a test's isolation) can pick it up by name.
        filled = connections.configure_settings(
            {"default": connections.settings["default"], DRILL_ALIAS: scratch}
        )
        drill_db = load_backend(filled[DRILL_ALIAS]["ENGINE"]).DatabaseWrapper(
            filled[DRILL_ALIAS], DRILL_ALIAS
        )
        connections[DRILL_ALIAS] = drill_db
        try:
            # The scratch copy gets what a real restore gets: the ledger, so shredded stays shredded,
            # and this code's schema, for an archive made before the last upgrade.
            shredded = shred_ledger().apply(using=DRILL_ALIAS)
            if manifest.migrations != _applied_migrations():
                call_command("migrate", database=DRILL_ALIAS, interactive=False, verbosity=0)
            storage = FileSystemBlobStorage(restored / "files")
            check = check_restored(using=DRILL_ALIAS, storage=storage)
            chain = verify_chain(using=DRILL_ALIAS)
        finally:
            drill_db.close()
            del connections[DRILL_ALIAS]
    if not chain.ok:
        raise RestoreCheckFailed(f"the restored audit chain does not verify at event #{chain.first_bad_id}")
    counts = manifest.counts
    if check.rows["reports.Report"] + check.shredded["reports.Report"] < int(counts.get("reports", 0)):
        raise RestoreCheckFailed("the restored database holds fewer reports than the manifest counts")
    return {**check.as_dict(), "audit_events": chain.checked, "ledger_reapplied": len(shredded)}


# --- restore -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreOutcome:
    """What a restore brought back."""

    manifest: Manifest
    reshredded: int


def live_data_present() -> bool:
    """Whether the configured database or file store already holds data a restore would overwrite."""
    has_files = bool(_stored_entries(Path(settings.VAULT_BLOB_DIR)))
    return has_files or database_has_data(connections["default"].settings_dict)


def _stored_entries(files: Path) -> list[Path]:
    """What the blob store holds: not a fresh filesystem's lost+found, nor our own dot-named leftovers."""
    if not files.is_dir():
        return []
    return [p for p in files.iterdir() if not p.name.startswith(".") and p.name != "lost+found"]


def restore_backup(
    *, archive: Path, actor: ActorArg, force: bool = False, secret_keys: Sequence[str] = ()
) -> RestoreOutcome:
    """Restore ``archive`` into the configured database and file store, then re-apply the shred ledger.

    Refuses (:class:`RestoreRefused`) to overwrite live data unless ``force``. Without
    ``secret_keys`` the drill key kept beside the master key decrypts the archive; an operator who
    lost that state directory gives their own backup key. The archive is decrypted and checked
    completely in the work dir before anything live is touched, so a corrupt or foreign archive
    changes nothing.
    """
    if not force and live_data_present():
        raise RestoreRefused(
            "this instance already holds data (a database or stored files); restoring would overwrite "
            "it. Restore into an empty data dir and database, or pass --force to replace it."
        )
    _require_master_key()
    keys = list(secret_keys) or _drill_keys_for_restore()
    work = private_dir(Path(settings.BACKUP_WORK_DIR) / f"restore-{uuid.uuid4().hex}")
    try:
        restored = work / "restored"
        # gpg's integrity check vouches for the bytes; the drill also rehashes (the newest archive).
        manifest = read_archive(archive, into=restored, secret_keys=keys, work_dir=work, rehash=False)
        _refuse_newer_schema(manifest)
        connections.close_all()
        try:
            restore_database(
                restored / manifest.database,
                engine=manifest.engine,
                settings_dict=connections["default"].settings_dict,
                move=True,
            )
            _replace_files(restored / "files", Path(settings.VAULT_BLOB_DIR))
        except OSError as error:
            raise BackupError(f"the restore could not write the data in place: {error}") from error
    finally:
        shutil.rmtree(work, ignore_errors=True)
    connections.close_all()
    # The ledger before anything else runs on the restored data (it needs only the key table,
    # which every schema has); the tidying that needs this code's schema follows the migration.
    shred_ledger().apply()
    if _behind_this_code():  # an archive from an older Bastion: bring its schema up to this code's
        call_command("migrate", interactive=False, verbosity=0)
    reshredded = enforce_shred_ledger(actor=actor)
    _recatalogue(manifest)
    data = {"archive": archive.name, "made_at": manifest.created_at, "counts": manifest.counts}
    record(
        event=Event.BACKUP_RESTORED,
        actor=actor,
        target=Target(type="vault.archive", id=archive.name),
        data=data,
    )
    return RestoreOutcome(manifest=manifest, reshredded=reshredded)


def _behind_this_code(alias: str = "default") -> bool:
    """Whether the database lacks migrations this code has.

    Asked first because ``migrate`` with nothing to do still costs a restore ~0.3 s (its checks
    and post-migrate handlers), and most restores are of an archive this same version made.
    """
    executor = MigrationExecutor(connections[alias])
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def _require_master_key() -> None:
    """Refuse a restore before the master keys are back: nothing in the archive opens without them.

    Keys are never made here: a restore that generated a fresh ``master-v1.key`` (or drill key)
    would fail with a misleading "wrong key", and leave a new key where the real one belongs.
    """
    if not get_key_provider().versions():
        raise BackupError(
            "no master key is available: put the master-key directory back (BASTION_MASTER_KEY_DIR) "
            "before restoring; without it nothing in the archive can be opened"
        )


def _drill_keys_for_restore() -> list[str]:
    """The drill keys, refusing clearly when the vault state directory was not put back first."""
    if not drill_key_path().exists():
        raise BackupError(
            f"no restore-drill key at {drill_key_path()}: put the vault state directory back "
            "(BASTION_VAULT_STATE_DIR), or give your own backup key with --secret-key"
        )
    return drill_secret_keys()


def _refuse_newer_schema(manifest: Manifest) -> None:
    """NewerArchive if the archive's database has migrations this code does not know."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = set(loader.disk_migrations)
    migrations = manifest.migrations if isinstance(manifest.migrations, dict) else {}
    unknown = sorted(f"{app}.{name}" for app, name in migrations.items() if (app, name) not in known)
    if unknown:
        raise NewerArchive(
            f"the archive was made by a newer Bastion (its database has {', '.join(unknown[:3])}); "
            f"this is {version('bastion')}: upgrade Bastion, then restore"
        )


def _replace_files(source: Path, target: Path) -> None:
    """Swap the restored blob tree into ``target``, one fan directory at a time, then drop the old ones.

    ``target`` itself stays (it may be a mount point, which cannot be renamed); whatever was in it
    is moved aside first (``--force``) and removed once the restored files are in.
    """
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    aside = target / f".replaced-{uuid.uuid4().hex[:8]}"
    old = _stored_entries(target)
    if old:
        aside.mkdir(mode=0o700)
        for entry in old:
            entry.rename(aside / entry.name)
    if source.is_dir():
        for fan in source.iterdir():
            # Same filesystem (the work dir defaults to the data dir): a rename. Elsewhere, a copy.
            shutil.move(str(fan), str(target / fan.name))
    shutil.rmtree(aside, ignore_errors=True)


def _recatalogue(manifest: Manifest) -> None:
    """Bring the restored backup catalogue up to what the destinations hold now.

    The restored catalogue is the archive's own: its run shows "running" (the snapshot was taken
    mid-run), and archives made after it are missing. Key retirement reads this catalogue, so an
    archive it does not know must be entered, with every master version there is (we cannot know
    which it holds without opening it): it then blocks retirement until it is pruned.
    """
    now = timezone.now()
    versions = sorted(set(get_key_provider().versions()) | set(manifest.master_versions or []))
    try:
        destinations = configured_destinations()
    except (DestinationError, ValueError):
        destinations = []
    for destination in destinations:
        try:
            names = destination.archives()
        except DestinationError:
            logger.warning(
                "After the restore, %s could not be listed; its archives are not catalogued", destination.name
            )
            continue
        _reconcile(destination, names)
        for name in names:
            backup, _ = Backup.objects.get_or_create(
                name=name,
                defaults={
                    "state": BackupState.STORED,
                    "started_at": archive_time(name) or now,
                    "finished_at": now,
                    "master_versions": versions,
                    "error": "catalogued from its destination after a restore",
                },
            )
            if backup.state != BackupState.STORED:
                held = sorted(set(backup.master_versions or []) | set(versions))
                Backup.objects.filter(pk=backup.pk).update(state=BackupState.STORED, master_versions=held)
            BackupCopy.objects.get_or_create(
                backup=backup,
                destination=destination.name,
                defaults={"state": CopyState.STORED, "location": destination.locate(name), "stored_at": now},
            )
    Backup.objects.filter(state=BackupState.RUNNING).update(
        state=BackupState.FAILED, finished_at=now, error="interrupted: restored from a snapshot taken mid-run"
    )


# --- freshness ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupHealth:
    """What the admin screen and the alert need: the newest verified backup and what is wrong."""

    newest_verified: RestoreDrill | None
    problems: list[str]


def backup_health(*, now: datetime | None = None) -> BackupHealth:
    """Problems: no verified backup within ``BACKUP_MAX_AGE_HOURS``, failing destinations, a failed drill."""
    now = now or timezone.now()
    problems: list[str] = []
    verified = RestoreDrill.objects.filter(ok=True).select_related("backup").first()
    limit = timedelta(hours=settings.BACKUP_MAX_AGE_HOURS)
    made_at = verified.backup.started_at if verified and verified.backup else None
    if made_at is None or now - made_at > limit:
        problems.append(f"no verified backup is newer than {settings.BACKUP_MAX_AGE_HOURS} hours")
    last = Backup.objects.exclude(state=BackupState.RUNNING).first()
    if last is not None:
        failing = BackupCopy.objects.filter(backup=last, state=CopyState.FAILED).order_by("destination")
        problems.extend(
            f"the last backup could not be written to {c.destination}: {c.error[:200]}" for c in failing
        )
        if last.state == BackupState.FAILED and not failing:
            problems.append(f"the last backup failed: {last.error[:200]}")
    drill = RestoreDrill.objects.exclude(ok=None).first()
    if drill is not None and drill.ok is False:
        problems.append(f"the last restore drill failed: {drill.error[:200]}")
    return BackupHealth(newest_verified=verified, problems=problems)


# --- master-key retirement ------------------------------------------------------------------------


def retire_unneeded_master_keys(*, actor: ActorArg) -> list[int]:
    """Destroy every master-key version no live key, sealed secret or kept archive needs; audit each.

    Once the last archive holding keys wrapped under a version is pruned, that version only
    stands between an attacker with an old copy and shredded reports; destroying it closes the
    window THREAT_MODEL.md states. A provider that cannot destroy versions (an env var, a single
    file) retires nothing here; ``bastion keys status`` tells the operator what to remove by hand.
    """

    def audited(number: int) -> None:
        data = {"version": number}
        target = Target(type="vault.master_key", id=str(number))
        record(event=Event.MASTER_KEY_RETIRED, actor=actor, target=target, data=data)

    try:
        return retire_versions(on_retired=audited)
    except RetirementRefused:
        return []
