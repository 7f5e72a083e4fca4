import io
import os
import stat

import pytest

from bastion.vault.envelope import Aad, new_data_key
from bastion.vault.storage import (
    BlobStorage,
    FileSystemBlobStorage,
    check_blob_name,
    get_blob_storage,
    new_blob_name,
)
from bastion.vault.streams import SealedStream, unseal_stream


@pytest.fixture
def storage(tmp_path) -> FileSystemBlobStorage:
    return FileSystemBlobStorage(tmp_path / "files")


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_blob_written_as_chunks_reads_back_whole(storage):
    name = new_blob_name()

    assert storage.write(name, [b"sealed ", b"bytes"]) == 12

    assert storage.exists(name)
    with storage.open(name) as blob:
        assert blob.read() == b"sealed bytes"


def test_a_blob_written_from_a_file_reads_back_whole(storage):
    name = new_blob_name()
    data = os.urandom(200_000)  # several copy chunks, and no newlines to lean on

    assert storage.write(name, io.BytesIO(data)) == len(data)

    with storage.open(name) as blob:
        assert blob.read() == data


def test_blobs_are_private_files_in_private_directories(storage):
    name = new_blob_name()
    storage.write(name, [b"x"])

    path = storage.path(name)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert mode(storage.root) == 0o700
    assert path.parent.name == name[:2]


def test_a_failed_write_leaves_no_blob_and_no_temp_file(storage):
    name = new_blob_name()

    def broken():
        yield b"half of the "
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        storage.write(name, broken())

    assert not storage.exists(name)
    assert list(storage.path(name).parent.iterdir()) == []


def test_a_retried_write_replaces_the_blob_atomically(storage):
    name = new_blob_name()
    storage.write(name, [b"first"])

    storage.write(name, [b"second"])

    with storage.open(name) as blob:
        assert blob.read() == b"second"
    assert [p.name for p in storage.path(name).parent.iterdir()] == [name]


def test_a_deleted_blob_is_gone_and_deleting_again_is_fine(storage):
    name = new_blob_name()
    storage.write(name, [b"x"])

    storage.delete(name)
    storage.delete(name)

    assert not storage.exists(name)
    with pytest.raises(FileNotFoundError):
        storage.open(name)


@pytest.mark.parametrize(
    "name", ["../etc/passwd", "report.pdf", "A" * 32, "0" * 31, "0" * 33, "", "/" + "0" * 31, "0" * 32 + "\n"]
)
def test_it_rejects_names_that_are_not_random_ids(storage, name):
    with pytest.raises(ValueError, match="blob names"):
        storage.write(name, [b"x"])
    with pytest.raises(ValueError, match="blob names"):
        check_blob_name(name)


def test_new_blob_names_are_random_ids():
    names = {new_blob_name() for _ in range(100)}

    assert len(names) == 100
    assert all(check_blob_name(name) == name for name in names)


def test_a_symlink_planted_in_the_store_is_not_followed(storage, tmp_path):
    name = new_blob_name()
    outside = tmp_path / "outside"
    outside.write_bytes(b"not a blob")
    storage.path(name).parent.mkdir(parents=True)
    storage.path(name).symlink_to(outside)

    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        storage.open(name)


def test_a_sealed_stream_goes_to_storage_and_back(storage):
    key = new_data_key()
    aad = Aad.for_field("reports.Attachment", "content", "1")
    data = os.urandom(150_000)
    name = new_blob_name()

    stream = SealedStream(io.BytesIO(data), key=key, aad=aad)
    written = storage.write(name, stream)

    assert written == stream.digest.sealed_size
    out = io.BytesIO()
    with storage.open(name) as blob:
        unseal_stream(blob, out, key=key, aad=aad)
    assert out.getvalue() == data


def test_the_default_storage_lives_in_the_configured_blob_directory(settings, tmp_path):
    settings.VAULT_BLOB_DIR = tmp_path / "files"

    storage = get_blob_storage()

    assert isinstance(storage, FileSystemBlobStorage)
    assert isinstance(storage, BlobStorage)
    assert storage.root == tmp_path / "files"


def test_an_unknown_storage_setting_stops_start_up(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.VAULT_BLOB_STORAGE = "bastion.vault.storage.Nope"
    with pytest.raises(ImproperlyConfigured, match="VAULT_BLOB_STORAGE"):
        get_blob_storage()

    settings.VAULT_BLOB_STORAGE = "bastion.vault.tests.test_storage.NotAStorage"
    with pytest.raises(ImproperlyConfigured, match="does not give a BlobStorage"):
        get_blob_storage()


class NotAStorage:
    @classmethod
    def from_settings(cls):
        return cls()
