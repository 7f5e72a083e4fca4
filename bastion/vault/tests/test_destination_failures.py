"""Backup destinations failing in the ways disks and S3 servers do: one clear message, nothing lost.

A destination's error ends up in the catalogue, the admins' alert and the vault screen, so each says
which destination, what it was doing, and what to check; a failure never removes an archive that
was stored. S3 errors are injected into a real moto server's answers through botocore's own event
hooks, the way a refusing or unreachable server would answer.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import (  # type: ignore[import-untyped]  # botocore ships no type hints
    ClientError,
    EndpointConnectionError,
)

from bastion.vault.backup import destinations
from bastion.vault.backup.destinations import (
    DestinationError,
    DirectoryDestination,
    Keep,
    archive_name,
)
from bastion.vault.backup.s3 import S3Destination
from bastion.vault.testing import make_bucket, s3_client

KEEP = Keep(daily=7, weekly=4, monthly=12)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "work" / "archive"
    path.parent.mkdir()
    path.write_bytes(os.urandom(50_000))
    return path


def a_name() -> str:
    return archive_name(datetime.now(UTC))


# --- directories ---------------------------------------------------------------------------------------


def test_a_directory_this_service_may_not_write_to_is_refused_before_any_copy(
    tmp_path: Path, archive: Path, monkeypatch: pytest.MonkeyPatch
):
    disk = tmp_path / "disk"
    disk.mkdir()
    destination = DirectoryDestination(disk, keep=KEEP)
    # What access(2) answers for a non-root service on a directory owned by someone else.
    monkeypatch.setattr(destinations.os, "access", lambda path, mode: False)

    with pytest.raises(DestinationError, match=rf"{disk} is not writable by uid \d+"):
        destination.store(archive, a_name())
    assert os.listdir(disk) == []
    assert repr(destination) == f"<DirectoryDestination dir:{disk}>"


def test_a_destination_path_that_became_a_file_cannot_be_listed(tmp_path: Path):
    mount = tmp_path / "mnt"
    mount.write_bytes(b"someone wrote a file where the mount point was")
    with pytest.raises(DestinationError, match=f"backup destination {mount}: listing archives failed: Not a"):
        DirectoryDestination(mount, keep=KEEP).archives()


def test_an_archive_that_cannot_be_deleted_is_reported_and_kept(tmp_path: Path):
    disk = tmp_path / "disk"
    disk.mkdir()
    name = a_name()
    (disk / name).mkdir()  # unlink(2) refuses a directory, as it refuses a file on a read-only mount
    (disk / name / "inside").write_bytes(b"kept")

    with pytest.raises(DestinationError, match=f"backup destination {disk}: deleting {name} failed"):
        DirectoryDestination(disk, keep=KEEP).delete(name)
    assert (disk / name / "inside").read_bytes() == b"kept"


# --- S3 ------------------------------------------------------------------------------------------------


def fresh_bucket(endpoint: str, **lock: Any) -> str:
    bucket = f"bastion-{uuid.uuid4().hex[:12]}"
    make_bucket(endpoint, bucket, **lock)
    return bucket


def refuse(operation: str, destination: S3Destination, code: str, message: str = "") -> None:
    """Make the server answer ``operation`` with the S3 error ``code`` from now on."""

    def answer(**kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": message}}, operation)

    destination.client.meta.events.register(f"before-call.s3.{operation}", answer)


def drop_the_line(operation: str, destination: S3Destination) -> None:
    """Make ``operation`` fail as if the network to the endpoint went away."""

    def answer(**kwargs: Any) -> None:
        raise EndpointConnectionError(endpoint_url=destination.endpoint_url)

    destination.client.meta.events.register(f"before-call.s3.{operation}", answer)


@pytest.fixture
def bucket(s3_endpoint: str) -> S3Destination:
    return S3Destination(fresh_bucket(s3_endpoint), endpoint_url=s3_endpoint, keep=KEEP, attempts=1)


def test_a_bucket_the_credentials_may_not_reach_is_an_access_problem(bucket: S3Destination):
    refuse("HeadBucket", bucket, "403")
    with pytest.raises(DestinationError, match=r"access denied while checking the bucket \(check the AWS"):
        bucket.check()


def test_a_bucket_whose_lock_settings_cannot_be_read_is_not_written_to(bucket: S3Destination, archive: Path):
    refuse("GetObjectLockConfiguration", bucket, "AccessDenied")
    with pytest.raises(DestinationError, match="access denied while reading the Object Lock configuration"):
        bucket.store(archive, a_name())
    assert bucket.archives() == []


def test_an_endpoint_lost_while_reading_the_lock_settings_is_reported(bucket: S3Destination, archive: Path):
    drop_the_line("GetObjectLockConfiguration", bucket)
    with pytest.raises(DestinationError, match="unreachable while reading the Object Lock configuration"):
        bucket.check()


@pytest.mark.parametrize(
    ("trouble", "expected"),
    [
        (lambda b: refuse("GetObject", b, "AccessDenied"), "access denied while downloading"),
        (lambda b: refuse("GetObject", b, "InternalError", "try again"), "downloading .* InternalError"),
        (lambda b: drop_the_line("GetObject", b), "unreachable while downloading"),
    ],
    ids=["denied", "server-error", "unreachable"],
)
def test_a_download_that_fails_says_why_and_leaves_no_file(
    bucket: S3Destination, archive: Path, tmp_path: Path, trouble: Any, expected: str
):
    name = a_name()
    bucket.store(archive, name)
    trouble(bucket)

    with pytest.raises(DestinationError, match=expected):
        bucket.fetch(name, tmp_path / "scratch")
    assert list((tmp_path / "scratch").iterdir()) == []


def test_a_server_without_versioning_still_deletes_the_archive(bucket: S3Destination, archive: Path):
    # Some S3-compatible servers have no ListObjectVersions: a plain delete is all there is.
    name = a_name()
    bucket.store(archive, name)
    refuse("ListObjectVersions", bucket, "NotImplemented")

    bucket.delete(name)

    assert bucket.archives() == []


@pytest.mark.parametrize("operation", ["ListObjectVersions", "DeleteObject"])
def test_a_delete_the_server_fails_keeps_the_archive_and_says_so(
    s3_endpoint: str, bucket: S3Destination, archive: Path, operation: str
):
    name = a_name()
    bucket.store(archive, name)
    refuse(operation, bucket, "SlowDown", "Please reduce your request rate")

    with pytest.raises(DestinationError, match="failed: SlowDown Please reduce your request rate"):
        bucket.delete(name)
    assert s3_client(s3_endpoint).head_object(Bucket=bucket.bucket, Key=name)["ContentLength"] == 50_000


@pytest.mark.parametrize("operation", ["ListObjectVersions", "DeleteObject"])
def test_a_delete_cut_off_by_the_network_keeps_the_archive(
    s3_endpoint: str, bucket: S3Destination, archive: Path, operation: str
):
    name = a_name()
    bucket.store(archive, name)
    drop_the_line(operation, bucket)

    with pytest.raises(DestinationError, match="unreachable while"):
        bucket.delete(name)
    assert s3_client(s3_endpoint).head_object(Bucket=bucket.bucket, Key=name)["ContentLength"] == 50_000


def test_a_delete_denied_on_an_unlocked_archive_is_an_access_problem(bucket: S3Destination, archive: Path):
    name = a_name()
    bucket.store(archive, name)
    refuse("DeleteObject", bucket, "AccessDenied")

    with pytest.raises(DestinationError, match=f"access denied while deleting {name}"):
        bucket.delete(name)


def test_a_delete_denied_on_an_archive_that_cannot_be_read_either_is_an_access_problem(
    bucket: S3Destination, archive: Path
):
    name = a_name()
    bucket.store(archive, name)
    refuse("DeleteObject", bucket, "AccessDenied")
    refuse("HeadObject", bucket, "AccessDenied")

    with pytest.raises(DestinationError, match=f"access denied while deleting {name}"):
        bucket.delete(name)


def test_a_bucket_default_rule_in_years_locks_for_as_many_years(s3_endpoint: str, archive: Path):
    name = f"bastion-{uuid.uuid4().hex[:12]}"
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    client.put_object_lock_configuration(
        Bucket=name,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 1}},
        },
    )
    destination = S3Destination(name, endpoint_url=s3_endpoint, keep=KEEP)

    copy = destination.store(archive, a_name())

    assert copy.retain_until is not None
    assert (copy.retain_until - datetime.now(UTC)).days in (364, 365)
