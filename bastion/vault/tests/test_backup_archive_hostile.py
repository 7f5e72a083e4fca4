"""Archives Bastion never writes, and disks and tools that fail under it: refused with a clear reason.

A restore reads an archive that may come from anywhere (an attacker who can write to a bucket, a
damaged disk, a hand-made tar), so every way the tar inside can be wrong ends in a
:class:`CorruptArchive` that says what is wrong, with nothing extracted left behind. The writing side
is checked against a full or unwritable disk and a machine without gpg.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from bastion.lib.openpgp import SecretKey, generate_org_key
from bastion.vault.backup import archive
from bastion.vault.backup.archive import (
    BackupError,
    CorruptArchive,
    GpgMissing,
    Manifest,
    WrongBackupKey,
    read_archive,
    write_archive,
)
from bastion.vault.backup.snapshot import Snapshot
from bastion.vault.storage import FileSystemBlobStorage, new_blob_name

pytestmark = pytest.mark.skipif(
    shutil.which("gpg") is None, reason="the gpg binary is missing: apt-get install gnupg"
)

DATABASE = "database/bastion.sqlite3"
HEADER = {
    "format": 1,
    "created_at": "2025-01-01T00:00:00+00:00",
    "bastion_version": "9",
    "engine": "sqlite",
}


@pytest.fixture(scope="module")
def backup_key() -> SecretKey:
    return generate_org_key("Hostile archive test <hostile@example.invalid>")


def digest(data: bytes) -> dict[str, object]:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def regular(name: str, data: bytes, **pax: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.type = len(data), 0o600, tarfile.REGTYPE
    info.pax_headers = dict(pax)
    return info, data


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes]], *, fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def encrypt(tmp_path: Path, key: SecretKey, plain: bytes) -> Path:
    """``plain`` encrypted to ``key`` by stock gpg (its own home): what an attacker could upload."""
    recipient = tmp_path / "recipient.asc"
    recipient.write_text(key.armored_public())
    home = tmp_path / "gpg-craft"
    home.mkdir(mode=0o700, exist_ok=True)
    encrypted = tmp_path / "crafted.tar.gpg"
    encrypted.unlink(missing_ok=True)
    subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--trust-model", "always", "-z", "0", "--encrypt",
         "--recipient-file", str(recipient), "--output", str(encrypted)],
        input=plain, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return encrypted


def well_formed(
    *,
    database: bytes = b"the database",
    header: dict[str, object] | None = None,
    manifest_header: dict[str, object] | None = None,
    listed: dict[str, bytes] | None = None,
    pax: dict[str, str] | None = None,
) -> list[tuple[tarfile.TarInfo, bytes]]:
    """ARCHIVE.json, the database and a MANIFEST.json listing ``listed`` (default: what is there)."""
    header_bytes = json.dumps(header or HEADER).encode()
    members = {"ARCHIVE.json": header_bytes, DATABASE: database} if listed is None else listed
    manifest = {
        **(manifest_header or header or HEADER),
        "members": {n: digest(d) for n, d in members.items()},
    }
    return [
        regular("ARCHIVE.json", header_bytes, **(pax or {})),
        regular(DATABASE, database, **(pax or {})),
        regular("MANIFEST.json", json.dumps(manifest).encode()),
    ]


def refused(crafted: Path, into: Path, key: SecretKey, *, rehash: bool = True) -> str:
    """Read ``crafted``; the CorruptArchive message, after checking nothing was left in ``into``."""
    with pytest.raises(CorruptArchive) as raised:
        read_archive(crafted, into=into, secret_keys=[key.armored_secret()], rehash=rehash)
    assert list(into.iterdir()) == []
    return str(raised.value)


# --- what a stock tar may add, and still restores ---------------------------------------------------


def test_an_archive_whose_members_carry_pax_records_still_restores(tmp_path: Path, backup_key: SecretKey):
    # GNU tar and Python's tarfile write pax records (mtime, owner names) around members: a tar an
    # operator re-packed by hand is still a good archive.
    members = well_formed(pax={"comment": "repacked by an operator", "uname": "backup"})
    crafted = encrypt(tmp_path, backup_key, tar_bytes(members))

    manifest = read_archive(crafted, into=tmp_path / "restored", secret_keys=[backup_key.armored_secret()])

    assert manifest.engine == "sqlite"
    assert (tmp_path / "restored" / DATABASE).read_bytes() == b"the database"


# --- the tar structure ---------------------------------------------------------------------------------


def test_a_pax_record_cannot_smuggle_a_path_out_of_the_restore(tmp_path: Path, backup_key: SecretKey):
    # A name over 100 characters only fits a pax "path" record: the name is checked after it applies.
    long_escape = "../" * 40 + "etc/cron.d/evil"
    members = [regular("ARCHIVE.json", json.dumps(HEADER).encode()), regular(long_escape, b"* * * * * x")]
    crafted = encrypt(tmp_path, backup_key, tar_bytes(members))

    message = refused(crafted, tmp_path / "restored", backup_key)

    assert "unexpected member '../../" in message
    assert "refusing to extract it" in message


def test_an_oversized_pax_header_is_refused_before_it_is_read(tmp_path: Path, backup_key: SecretKey):
    members = [regular("ARCHIVE.json", json.dumps(HEADER).encode(), comment="x" * 70_000)]
    crafted = encrypt(tmp_path, backup_key, tar_bytes(members))
    assert "oversized pax header" in refused(crafted, tmp_path / "restored", backup_key)


@pytest.mark.parametrize(
    "records",
    [b"twelve path=x\n", b"0 =\n", b"7 =abc\n"],
    ids=["length-not-a-number", "zero-length", "empty-key"],
)
def test_a_malformed_pax_header_is_refused(tmp_path: Path, backup_key: SecretKey, records: bytes):
    pax = tarfile.TarInfo("././@PaxHeader")
    pax.type, pax.size = tarfile.XHDTYPE, len(records)
    members = [(pax, records), regular("ARCHIVE.json", json.dumps(HEADER).encode())]
    crafted = encrypt(tmp_path, backup_key, tar_bytes(members, fmt=tarfile.USTAR_FORMAT))
    assert "malformed pax header" in refused(crafted, tmp_path / "restored", backup_key)


def test_a_member_header_with_a_bad_checksum_is_refused(tmp_path: Path, backup_key: SecretKey):
    plain = bytearray(tar_bytes(well_formed(), fmt=tarfile.USTAR_FORMAT))
    plain[0] ^= 0x20  # "ARCHIVE.json" -> "aRCHIVE.json": the header's checksum no longer holds
    crafted = encrypt(tmp_path, backup_key, bytes(plain))
    assert "damaged member header" in refused(crafted, tmp_path / "restored", backup_key)


def test_a_tar_that_ends_inside_a_member_header_is_truncated(tmp_path: Path, backup_key: SecretKey):
    first = tar_bytes([regular("ARCHIVE.json", json.dumps(HEADER).encode())], fmt=tarfile.USTAR_FORMAT)
    one_member = first[: 2 * tarfile.BLOCKSIZE]  # the header and the data block, no end marker
    crafted = encrypt(tmp_path, backup_key, one_member + b"\x01" * 100)
    assert "ends inside a member header" in refused(crafted, tmp_path / "restored", backup_key)


def test_an_empty_tar_is_not_an_archive(tmp_path: Path, backup_key: SecretKey):
    crafted = encrypt(tmp_path, backup_key, tar_bytes([]))
    assert "the archive is empty" in refused(crafted, tmp_path / "restored", backup_key)


def test_a_json_member_of_implausible_size_is_refused_without_reading_it(
    tmp_path: Path, backup_key: SecretKey
):
    info = tarfile.TarInfo("ARCHIVE.json")
    info.size, info.mode = 300 << 20, 0o600
    header_only = info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")
    crafted = encrypt(tmp_path, backup_key, header_only + bytes(4 * tarfile.BLOCKSIZE))
    assert "ARCHIVE.json is implausibly large" in refused(crafted, tmp_path / "restored", backup_key)


# --- the order and the manifest ------------------------------------------------------------------------


def test_an_archive_must_start_with_its_header(tmp_path: Path, backup_key: SecretKey):
    members = well_formed()
    crafted = encrypt(tmp_path, backup_key, tar_bytes([members[1], members[0], members[2]]))
    assert "starts with database/bastion.sqlite3, not ARCHIVE.json" in refused(
        crafted, tmp_path / "restored", backup_key
    )


def test_a_member_after_the_manifest_is_refused(tmp_path: Path, backup_key: SecretKey):
    appended = regular("files/ab/ab" + "0" * 30, b"appended later")
    crafted = encrypt(tmp_path, backup_key, tar_bytes([*well_formed(), appended]))
    assert "continues after its manifest (with files/ab/" in refused(
        crafted, tmp_path / "restored", backup_key
    )


def test_a_member_given_twice_is_refused(tmp_path: Path, backup_key: SecretKey):
    header, database, manifest = well_formed()
    twice = regular(DATABASE, b"a second database, written over the first")
    crafted = encrypt(tmp_path, backup_key, tar_bytes([header, database, twice, manifest]))
    assert "holds database/bastion.sqlite3 twice" in refused(crafted, tmp_path / "restored", backup_key)


def test_a_header_and_manifest_that_disagree_mean_the_archive_was_altered(
    tmp_path: Path, backup_key: SecretKey
):
    swapped = {**HEADER, "engine": "postgresql"}
    crafted = encrypt(tmp_path, backup_key, tar_bytes(well_formed(manifest_header=swapped)))
    assert "ARCHIVE.json and MANIFEST.json disagree" in refused(crafted, tmp_path / "restored", backup_key)


# A restore does not rehash (it trusts gpg's integrity check for the bytes); it still holds every
# member to the manifest's list and sizes.
either_way = pytest.mark.parametrize("rehash", [True, False], ids=["rehashing", "as a restore reads"])


@either_way
def test_a_member_the_manifest_lists_but_the_archive_lacks_is_refused(
    tmp_path: Path, backup_key: SecretKey, rehash: bool
):
    header_bytes = json.dumps(HEADER).encode()
    listed = {"ARCHIVE.json": header_bytes, DATABASE: b"db", "files/cd/cd" + "1" * 30: b"a sealed file"}
    crafted = encrypt(tmp_path, backup_key, tar_bytes(well_formed(database=b"db", listed=listed)))
    assert "lacks files/cd/cd111" in refused(crafted, tmp_path / "restored", backup_key, rehash=rehash)


@either_way
def test_a_member_the_manifest_does_not_list_is_refused(tmp_path: Path, backup_key: SecretKey, rehash: bool):
    header_bytes = json.dumps(HEADER).encode()
    header, database, manifest = well_formed(listed={"ARCHIVE.json": header_bytes, DATABASE: b"the database"})
    planted = regular("files/ef/ef" + "2" * 30, b"planted")
    crafted = encrypt(tmp_path, backup_key, tar_bytes([header, database, planted, manifest]))
    message = refused(crafted, tmp_path / "restored", backup_key, rehash=rehash)
    assert "holds files/ef/ef222" in message
    assert "manifest does not list" in message


@either_way
def test_a_member_of_another_size_than_the_manifest_says_is_refused(
    tmp_path: Path, backup_key: SecretKey, rehash: bool
):
    header_bytes = json.dumps(HEADER).encode()
    listed = {"ARCHIVE.json": header_bytes, DATABASE: b"the database, as it was"}
    crafted = encrypt(tmp_path, backup_key, tar_bytes(well_formed(listed=listed)))
    message = refused(crafted, tmp_path / "restored", backup_key, rehash=rehash)
    assert f"{DATABASE} does not match the manifest" in message


def test_a_digest_the_writer_got_wrong_is_caught_by_rehashing_not_by_a_restore(
    tmp_path: Path, backup_key: SecretKey
):
    # Same size, other bytes: only a writer's bug can make this, since gpg vouches for every byte
    # it decrypted. The drill rehashes and fails; a restore trusts gpg and takes the bytes.
    header_bytes = json.dumps(HEADER).encode()
    listed = {"ARCHIVE.json": header_bytes, DATABASE: b"the databasE"}
    crafted = encrypt(tmp_path, backup_key, tar_bytes(well_formed(listed=listed)))
    assert "does not match the manifest" in refused(crafted, tmp_path / "drilled", backup_key)

    into = tmp_path / "restored"
    read_archive(crafted, into=into, secret_keys=[backup_key.armored_secret()], rehash=False)
    assert (into / DATABASE).read_bytes() == b"the database"


def test_a_manifest_whose_member_list_is_malformed_is_a_damaged_archive():
    data = json.dumps({**HEADER, "members": {DATABASE: {"size": "12", "sha256": "ab"}}}).encode()
    with pytest.raises(CorruptArchive, match="malformed member list"):
        Manifest.from_json(data)


# --- keys ----------------------------------------------------------------------------------------------


def test_a_restore_without_any_secret_key_says_so(tmp_path: Path, backup_key: SecretKey):
    crafted = encrypt(tmp_path, backup_key, tar_bytes(well_formed()))
    into = tmp_path / "restored"
    with pytest.raises(WrongBackupKey, match="no secret key was given"):
        read_archive(crafted, into=into, secret_keys=[])
    assert list(into.iterdir()) == []


def test_a_secret_key_gpg_cannot_read_is_named_as_the_problem(tmp_path: Path, backup_key: SecretKey):
    crafted = encrypt(tmp_path, backup_key, tar_bytes(well_formed()))
    with pytest.raises(WrongBackupKey, match="could not be read by gpg; is it an armored secret key"):
        read_archive(crafted, into=tmp_path / "restored", secret_keys=["-----BEGIN PGP JUNK-----"])


def test_an_archive_file_that_is_not_there_is_named(tmp_path: Path, backup_key: SecretKey):
    with pytest.raises(BackupError, match="there is no archive at"):
        read_archive(
            tmp_path / "gone.tar.gpg", into=tmp_path / "r", secret_keys=[backup_key.armored_secret()]
        )


# --- disks and tools -------------------------------------------------------------------------------------


@pytest.fixture
def snapshot(tmp_path: Path) -> Snapshot:
    path = tmp_path / "work" / "bastion.sqlite3"
    path.parent.mkdir()
    path.write_bytes(os.urandom(20_000))
    return Snapshot(path=path, engine="sqlite", member=DATABASE)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    directory = tmp_path / "out"
    directory.mkdir()
    (directory / "bastion-older.tar.gpg").write_bytes(b"an older, good archive")
    return directory


def write(target: Path, snapshot: Snapshot, blob_dir: Path, key: SecretKey) -> None:
    write_archive(target, snapshot=snapshot, blob_dir=blob_dir, recipients=[key.armored_public()], facts={})


@pytest.mark.parametrize(
    ("code", "expected"),
    [(errno.ENOSPC, "no space left on .*older archives were not touched"), (errno.EACCES, "cannot write")],
)
def test_an_archive_that_cannot_even_be_created_is_a_clear_error(
    snapshot: Snapshot,
    out: Path,
    backup_key: SecretKey,
    monkeypatch: pytest.MonkeyPatch,
    code: int,
    expected: str,
):
    def refuse(path: Path) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(archive, "create_private_file", refuse)
    with pytest.raises(BackupError, match=expected):
        write(out / "bastion-new.tar.gpg", snapshot, out / "no-files", backup_key)
    assert os.listdir(out) == ["bastion-older.tar.gpg"]


def test_a_disk_error_mid_write_is_raised_as_itself_and_leaves_no_partial_file(
    snapshot: Snapshot, out: Path, backup_key: SecretKey, monkeypatch: pytest.MonkeyPatch
):
    def failing_disk(handle: object, data: object) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(archive, "_write_out", failing_disk)
    with pytest.raises(OSError, match="Input/output error"):
        write(out / "bastion-new.tar.gpg", snapshot, out / "no-files", backup_key)
    assert os.listdir(out) == ["bastion-older.tar.gpg"]
    assert (out / "bastion-older.tar.gpg").read_bytes() == b"an older, good archive"


def test_a_symlink_or_stray_file_in_the_blob_store_is_not_followed_into_the_archive(
    tmp_path: Path, snapshot: Snapshot, out: Path, backup_key: SecretKey
):
    storage = FileSystemBlobStorage(tmp_path / "files")
    kept = new_blob_name()
    storage.write(kept, [b"a sealed blob"])
    linked, stray = [fan for fan in ("cd", "ce", "ef") if fan != kept[:2]][:2]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / (linked + "3" * 30)).write_bytes(b"not ours: must not be archived")
    (storage.root / linked).symlink_to(outside, target_is_directory=True)
    (storage.root / stray).write_bytes(b"a stray file where a fan directory would be")
    target = out / "bastion-new.tar.gpg"

    write(target, snapshot, storage.root, backup_key)
    manifest = read_archive(target, into=tmp_path / "restored", secret_keys=[backup_key.armored_secret()])

    assert sorted(name for name in manifest.members if name.startswith("files/")) == [
        f"files/{kept[:2]}/{kept}"
    ]


def children() -> list[str]:
    """The commands of this process's child processes still present (running or not yet reaped)."""
    found = []
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            with contextlib.suppress(FileNotFoundError):
                found.append(Path(f"/proc/{pid}/comm").read_text().strip())
    return found


def fill_up_under(into: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every write to a file under ``into`` fail with ENOSPC, as a full disk does."""
    real_write = os.write

    def full_under_into(fd: int, data: bytes | memoryview) -> int:
        # Only the restore's own files hit the "full disk": gpg's pipes and logs write on.
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(into)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(archive.os, "write", full_under_into)


def test_a_restore_onto_a_disk_that_fills_up_says_where_and_leaves_nothing(
    tmp_path: Path, snapshot: Snapshot, out: Path, backup_key: SecretKey, monkeypatch: pytest.MonkeyPatch
):
    target = out / "bastion-new.tar.gpg"
    write(target, snapshot, tmp_path / "no-files", backup_key)
    into = tmp_path / "restored"
    fill_up_under(into, monkeypatch)

    with pytest.raises(BackupError, match=f"no space left on {into}"):
        read_archive(target, into=into, secret_keys=[backup_key.armored_secret()])

    monkeypatch.undo()
    assert list(into.iterdir()) == []


def test_a_restore_that_fails_on_a_full_disk_leaves_no_gpg_process_behind(
    tmp_path: Path, snapshot: Snapshot, out: Path, backup_key: SecretKey, monkeypatch: pytest.MonkeyPatch
):
    target = out / "bastion-new.tar.gpg"
    write(target, snapshot, tmp_path / "no-files", backup_key)
    assert "gpg" not in children()
    into = tmp_path / "restored"
    fill_up_under(into, monkeypatch)

    with pytest.raises(BackupError, match="no space left"):
        read_archive(target, into=into, secret_keys=[backup_key.armored_secret()])

    assert "gpg" not in children()


def test_a_machine_without_gpg_is_told_to_install_it(
    tmp_path: Path, snapshot: Snapshot, out: Path, backup_key: SecretKey, monkeypatch: pytest.MonkeyPatch
):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(GpgMissing, match=r"gpg program is missing; install gnupg"):
        write(out / "bastion-new.tar.gpg", snapshot, tmp_path / "no-files", backup_key)
    assert os.listdir(out) == ["bastion-older.tar.gpg"]
