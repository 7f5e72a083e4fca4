"""The encrypted backup archive: written and read back whole, opened by stock gpg + tar, and every bad
archive refused with a clear error and nothing left behind."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.lib.openpgp import SecretKey, generate_org_key
from bastion.vault.backup import archive
from bastion.vault.backup.archive import (
    BackupError,
    CorruptArchive,
    Manifest,
    NewerArchive,
    WrongBackupKey,
    read_archive,
    write_archive,
)
from bastion.vault.backup.snapshot import Snapshot, snapshot_database
from bastion.vault.storage import FileSystemBlobStorage, new_blob_name

pytestmark = pytest.mark.skipif(
    shutil.which("gpg") is None, reason="the gpg binary is missing: apt-get install gnupg"
)

FACTS = {
    "counts": {"reports": 2, "attachments": 3},
    "master_versions": [1, 2],
    "migrations": {"vault": "0004"},
}


@pytest.fixture(scope="module")
def backup_key() -> SecretKey:
    return generate_org_key("Backup test <backup-test@example.invalid>")


@pytest.fixture(scope="module")
def stranger_key() -> SecretKey:
    return generate_org_key("Someone else <stranger@example.invalid>")


@pytest.fixture
def blob_dir(tmp_path: Path) -> Path:
    """Three sealed-looking blobs (one over the 1 MiB copy chunk, one empty) and a stray temp file."""
    storage = FileSystemBlobStorage(tmp_path / "files")
    for size in (1_500_000, 3000, 0):
        storage.write(new_blob_name(), [os.urandom(size)])
    name = new_blob_name()
    (storage.root / name[:2]).mkdir(mode=0o700, exist_ok=True)
    (storage.root / name[:2] / f".{name}.0123456789abcdef.tmp").write_bytes(b"half-written")
    return storage.root


@pytest.fixture
def fake_snapshot(tmp_path: Path) -> Snapshot:
    path = tmp_path / "work" / "bastion.sqlite3"
    path.parent.mkdir()
    path.write_bytes(os.urandom(70_000))
    return Snapshot(path=path, engine="sqlite", member="database/bastion.sqlite3")


@pytest.fixture
def written(tmp_path: Path, fake_snapshot: Snapshot, blob_dir: Path, backup_key: SecretKey) -> Path:
    target = tmp_path / "out" / "bastion-test.tar.gpg"
    target.parent.mkdir()
    write_archive(
        target,
        snapshot=fake_snapshot,
        blob_dir=blob_dir,
        recipients=[backup_key.armored_public()],
        facts=FACTS,
    )
    return target


class Gpg:
    """The stock gpg binary with a home of its own, as an operator would use it."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def __call__(self, *args: str, stdin: bytes | None = None) -> bytes:
        command = ["gpg", "--homedir", str(self.home), "--batch", "--no-tty", "--quiet", *args]
        return subprocess.run(command, input=stdin, capture_output=True, check=True, timeout=120).stdout

    def new_key(self, email: str, primary: str, subkey: str) -> str:
        """An operator key made by gpg; its armored public key."""
        self("--passphrase", "", "--quick-gen-key", f"Operator <{email}>", primary, "cert", "never")
        fingerprint = (
            self("--list-keys", "--with-colons", email).decode().split("fpr:::::::::")[1].split(":")[0]
        )
        self("--passphrase", "", "--quick-add-key", fingerprint, subkey, "encr", "never")
        return self("--armor", "--export", email).decode()


@pytest.fixture
def gpg(tmp_path: Path) -> Iterator[Gpg]:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    yield Gpg(home)
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, timeout=30)


def tree(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root``, by relative path."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def blobs_of(blob_dir: Path) -> dict[str, bytes]:
    return {name: data for name, data in tree(blob_dir).items() if not Path(name).name.startswith(".")}


def encrypt_tar(tmp_path: Path, key: SecretKey, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    """A hand-made tar, encrypted by stock gpg: archives Bastion would never write."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    recipient = tmp_path / "recipient.asc"
    recipient.write_text(key.armored_public())
    home = tmp_path / "gpg-enc"
    home.mkdir(mode=0o700)
    encrypted = tmp_path / "crafted.tar.gpg"
    subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--trust-model", "always", "-z", "0", "--encrypt",
         "--recipient-file", str(recipient), "--output", str(encrypted)],
        input=buffer.getvalue(), capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return encrypted


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, 0o600
    return info


def archive_json(number: int = 1) -> bytes:
    header = {
        "format": number,
        "created_at": "2025-01-01T00:00:00+00:00",
        "bastion_version": "9",
        "engine": "sqlite",
    }
    return json.dumps(header).encode()


@pytest.mark.django_db(transaction=True)
def test_it_round_trips_a_database_snapshot_and_every_blob_byte_for_byte(
    tmp_path: Path, blob_dir: Path, backup_key: SecretKey
) -> None:
    snapshot = snapshot_database(tmp_path / "work")
    target = tmp_path / "out" / "bastion-1.tar.gpg"
    target.parent.mkdir()

    written = write_archive(
        target, snapshot=snapshot, blob_dir=blob_dir, recipients=[backup_key.armored_public()], facts=FACTS
    )
    manifest = read_archive(target, into=tmp_path / "restored", secret_keys=[backup_key.armored_secret()])

    restored = tmp_path / "restored"
    assert blobs_of(restored / "files") == blobs_of(blob_dir)
    assert (restored / snapshot.member).read_bytes() == snapshot.path.read_bytes()
    for name, digest in manifest.members.items():
        data = (restored / name).read_bytes()
        assert digest == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert set(manifest.members) == {
        "ARCHIVE.json",
        snapshot.member,
        *(f"files/{n}" for n in blobs_of(blob_dir)),
    }
    assert manifest == written.manifest
    assert manifest.database == snapshot.member
    assert manifest.summary()["counts"] == FACTS["counts"]
    assert manifest.master_versions == [1, 2]
    assert "members" not in manifest.summary()
    assert written.size == target.stat().st_size
    assert written.sha256 == hashlib.sha256(target.read_bytes()).hexdigest()
    assert target.stat().st_mode & 0o777 == 0o600
    assert os.listdir(target.parent) == [target.name]  # no partial file left over
    assert (restored / "files").stat().st_mode & 0o777 == 0o700
    assert (restored / snapshot.member).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("primary", "subkey"), [("ed25519", "cv25519"), ("rsa3072", "rsa3072")])
def test_stock_gpg_and_tar_restore_an_archive_made_for_an_operator_key(
    tmp_path: Path,
    gpg: Gpg,
    fake_snapshot: Snapshot,
    blob_dir: Path,
    backup_key: SecretKey,
    primary: str,
    subkey: str,
) -> None:
    operator_public = gpg.new_key("ops@example.org", primary, subkey)
    target = tmp_path / "bastion.tar.gpg"
    write_archive(
        target,
        snapshot=fake_snapshot,
        blob_dir=blob_dir,
        recipients=[backup_key.armored_public(), operator_public],
        facts=FACTS,
    )

    plain_tar = gpg("--pinentry-mode", "loopback", "--passphrase", "", "--decrypt", str(target))
    out = tmp_path / "by-hand"
    out.mkdir()
    subprocess.run(["tar", "-x", "-C", str(out)], input=plain_tar, check=True, timeout=60)

    assert blobs_of(out / "files") == blobs_of(blob_dir)
    assert (out / "database" / "bastion.sqlite3").read_bytes() == fake_snapshot.path.read_bytes()
    assert json.loads((out / "ARCHIVE.json").read_bytes())["format"] == archive.ARCHIVE_FORMAT
    assert json.loads((out / "MANIFEST.json").read_bytes())["migrations"] == FACTS["migrations"]


def test_it_names_the_recipients_when_given_the_wrong_key(
    tmp_path: Path, written: Path, stranger_key: SecretKey
) -> None:
    into = tmp_path / "restored"
    with pytest.raises(
        WrongBackupKey, match=r"not encrypted to the key you gave; it was encrypted to [0-9A-F]{16}"
    ):
        read_archive(written, into=into, secret_keys=[stranger_key.armored_secret()])
    assert list(into.iterdir()) == []


# A restore reads without rehashing the members: gpg's integrity check alone must catch damage.
rehashing_or_not = pytest.mark.parametrize("rehash", [True, False], ids=["rehashing", "as a restore reads"])


@rehashing_or_not
def test_it_refuses_an_archive_with_a_flipped_byte_in_the_middle(
    tmp_path: Path, written: Path, backup_key: SecretKey, rehash: bool
) -> None:
    data = bytearray(written.read_bytes())
    data[len(data) // 2] ^= 0x01
    written.write_bytes(bytes(data))
    into = tmp_path / "restored"
    with pytest.raises(CorruptArchive, match="another copy"):
        read_archive(written, into=into, secret_keys=[backup_key.armored_secret()], rehash=rehash)
    assert list(into.iterdir()) == []  # nothing half-extracted stays behind


@rehashing_or_not
@pytest.mark.parametrize("keep", [0.5, 0.98])
def test_it_refuses_a_truncated_archive(
    tmp_path: Path, written: Path, backup_key: SecretKey, keep: float, rehash: bool
) -> None:
    data = written.read_bytes()
    written.write_bytes(data[: int(len(data) * keep)])
    into = tmp_path / "restored"
    with pytest.raises(CorruptArchive, match=r"truncated|damaged"):
        read_archive(written, into=into, secret_keys=[backup_key.armored_secret()], rehash=rehash)
    assert list(into.iterdir()) == []


def test_it_refuses_a_file_that_is_not_an_archive_at_all(tmp_path: Path, backup_key: SecretKey) -> None:
    junk = tmp_path / "junk.tar.gpg"
    junk.write_bytes(b"this is not OpenPGP\n" * 100)
    with pytest.raises(CorruptArchive, match="not an OpenPGP-encrypted Bastion archive"):
        read_archive(junk, into=tmp_path / "restored", secret_keys=[backup_key.armored_secret()])


def test_it_refuses_an_archive_from_a_newer_bastion_before_extracting_anything(
    tmp_path: Path, backup_key: SecretKey
) -> None:
    crafted = encrypt_tar(
        tmp_path,
        backup_key,
        [(member("ARCHIVE.json"), archive_json(2)), (member("database/bastion.sqlite3"), b"x" * 600)],
    )
    into = tmp_path / "restored"
    with pytest.raises(NewerArchive, match=r"newer Bastion \(format 2.*upgrade Bastion first"):
        read_archive(crafted, into=into, secret_keys=[backup_key.armored_secret()])
    assert list(into.iterdir()) == []


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (member("../escaped"), "unexpected member '../escaped'"),
        (member("files/../../escaped"), "unexpected member"),
        (member("/etc/escaped"), "unexpected member"),
        (
            member("files/ab/ab" + "0" * 30, tarfile.SYMTYPE, "/etc/passwd"),
            "symbolic link, not a regular file",
        ),
        (member("files/ab/ab" + "1" * 30, tarfile.LNKTYPE, "ARCHIVE.json"), "hard link, not a regular file"),
    ],
)
def test_it_refuses_unsafe_members(
    tmp_path: Path, backup_key: SecretKey, bad: tarfile.TarInfo, message: str
) -> None:
    crafted = encrypt_tar(tmp_path, backup_key, [(member("ARCHIVE.json"), archive_json()), (bad, b"pwned")])
    into = tmp_path / "deep" / "restored"
    with pytest.raises(CorruptArchive, match=message):
        read_archive(crafted, into=into, secret_keys=[backup_key.armored_secret()])
    assert list(into.iterdir()) == []
    assert not (tmp_path / "deep" / "escaped").exists()


def test_it_refuses_a_member_that_does_not_match_the_manifest(tmp_path: Path, backup_key: SecretKey) -> None:
    header = archive_json()
    database = b"the real database"
    listed = {
        "ARCHIVE.json": {"size": len(header), "sha256": hashlib.sha256(header).hexdigest()},
        "database/bastion.sqlite3": {
            "size": len(database),
            "sha256": hashlib.sha256(b"another one").hexdigest(),
        },
    }
    manifest = json.dumps({**json.loads(header), "members": listed}).encode()
    crafted = encrypt_tar(
        tmp_path,
        backup_key,
        [(member("ARCHIVE.json"), header), (member("database/bastion.sqlite3"), database),
         (member("MANIFEST.json"), manifest)],
    )  # fmt: skip
    with pytest.raises(
        CorruptArchive, match=re.escape("database/bastion.sqlite3 does not match the manifest")
    ):
        read_archive(crafted, into=tmp_path / "restored", secret_keys=[backup_key.armored_secret()])


def test_an_archive_without_its_manifest_counts_as_truncated(tmp_path: Path, backup_key: SecretKey) -> None:
    crafted = encrypt_tar(
        tmp_path,
        backup_key,
        [(member("ARCHIVE.json"), archive_json()), (member("database/bastion.sqlite3"), b"db")],
    )
    with pytest.raises(CorruptArchive, match=re.escape("truncated: it ends before its MANIFEST.json")):
        read_archive(crafted, into=tmp_path / "restored", secret_keys=[backup_key.armored_secret()])


def test_a_full_disk_is_a_clear_error_and_loses_nothing(
    tmp_path: Path,
    fake_snapshot: Snapshot,
    blob_dir: Path,
    backup_key: SecretKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    older = out / "bastion-older.tar.gpg"
    older.write_bytes(b"an older, good archive")

    def disk_full(handle: object, data: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(archive, "_write_out", disk_full)
    with pytest.raises(BackupError, match=f"no space left on {out}"):
        write_archive(
            out / "bastion-new.tar.gpg",
            snapshot=fake_snapshot,
            blob_dir=blob_dir,
            recipients=[backup_key.armored_public()],
            facts=FACTS,
        )
    assert sorted(os.listdir(out)) == ["bastion-older.tar.gpg"]
    assert older.read_bytes() == b"an older, good archive"


def test_it_never_overwrites_an_existing_archive(
    written: Path, fake_snapshot: Snapshot, backup_key: SecretKey
) -> None:
    before = written.read_bytes()
    with pytest.raises(BackupError, match="already exists"):
        write_archive(
            written,
            snapshot=fake_snapshot,
            blob_dir=written.parent,
            recipients=[backup_key.armored_public()],
            facts={},
        )
    assert written.read_bytes() == before


def test_it_says_when_the_target_directory_is_missing(
    tmp_path: Path, fake_snapshot: Snapshot, backup_key: SecretKey
) -> None:
    with pytest.raises(BackupError, match="does not exist"):
        write_archive(
            tmp_path / "nowhere" / "a.tar.gpg",
            snapshot=fake_snapshot,
            blob_dir=tmp_path,
            recipients=[backup_key.armored_public()],
            facts={},
        )


def test_a_recipient_gpg_cannot_use_fails_the_backup_and_leaves_no_file(
    tmp_path: Path, fake_snapshot: Snapshot, blob_dir: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BackupError, match="gpg"):
        write_archive(
            out / "a.tar.gpg", snapshot=fake_snapshot, blob_dir=blob_dir, recipients=["junk"], facts={}
        )
    assert os.listdir(out) == []


def test_it_refuses_to_extract_over_a_previous_extraction(
    written: Path, tmp_path: Path, backup_key: SecretKey
) -> None:
    into = tmp_path / "restored"
    read_archive(written, into=into, secret_keys=[backup_key.armored_secret()])
    before = tree(into)
    with pytest.raises(BackupError, match="extract the archive into an empty directory"):
        read_archive(written, into=into, secret_keys=[backup_key.armored_secret()])
    assert tree(into) == before


def test_the_manifest_survives_json_and_keeps_unknown_facts() -> None:
    manifest = Manifest(
        format=1,
        created_at="2025-01-01T00:00:00+00:00",
        bastion_version="1.2",
        engine="postgresql",
        members={"ARCHIVE.json": {"size": 3, "sha256": "ab"}},
        counts={"reports": 1},
        master_versions=[3],
        migrations={"vault": "0004"},
        extra={"host": "bastion-1"},
    )
    assert Manifest.from_json(manifest.to_json()) == manifest
    assert manifest.summary() == {
        "format": 1,
        "created_at": "2025-01-01T00:00:00+00:00",
        "bastion_version": "1.2",
        "engine": "postgresql",
        "counts": {"reports": 1},
        "master_versions": [3],
        "migrations": {"vault": "0004"},
        "host": "bastion-1",
    }


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[1]",
        b'{"format": "1"}',
        b'{"format": 1}',
        b'{"format": 0, "engine": "sqlite"}',
        b'{"format": 1, "created_at": "2025-01-01", "bastion_version": "1", "engine": "oracle"}',
    ],
)
def test_a_malformed_manifest_is_a_corrupt_archive(data: bytes) -> None:
    with pytest.raises(CorruptArchive):
        Manifest.from_json(data)


def test_reading_leaves_the_mode_of_the_directories_it_works_in_alone(
    tmp_path: Path, written: Path, backup_key: SecretKey
) -> None:
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    read_archive(
        written, into=tmp_path / "restored", secret_keys=[backup_key.armored_secret()], work_dir=shared
    )
    assert shared.stat().st_mode & 0o7777 == 0o1777
    assert list(shared.iterdir()) == []  # the gpg home is gone
