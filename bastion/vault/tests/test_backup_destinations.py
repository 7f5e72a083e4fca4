"""Backup destinations: archive names, retention specs, directories, S3 buckets (moto server), specs."""

import errno
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import (  # type: ignore[import-untyped]  # botocore ships no type hints
    ClientError,
    EndpointConnectionError,
)

from bastion.vault.backup import destinations
from bastion.vault.backup.destinations import (
    Destination,
    DestinationError,
    DestinationSpecError,
    DirectoryDestination,
    Keep,
    archive_name,
    archive_time,
    configured_destinations,
    parse_destination,
)
from bastion.vault.backup.s3 import S3Destination
from bastion.vault.testing import make_bucket, s3_client

KEEP = Keep(daily=7, weekly=4, monthly=12)
MIB = 1024 * 1024


def name_at(when: datetime, suffix: str = "abcdef") -> str:
    return f"bastion-{when:%Y%m%dT%H%M%SZ}-{suffix}.tar.gpg"


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "work" / "archive"
    path.parent.mkdir()
    path.write_bytes(os.urandom(300_000))
    return path


# --- names ------------------------------------------------------------------------------------------


def test_archive_names_carry_the_utc_time_and_differ_within_one_second():
    at = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)
    names = {archive_name(at) for _ in range(20)}
    assert len(names) == 20
    for name in names:
        assert name.startswith("bastion-20261125T223000Z-")
        assert name.endswith(destinations.ARCHIVE_SUFFIX)
        assert archive_time(name) == at


def test_archive_names_are_in_utc_whatever_the_time_zone_given():
    from zoneinfo import ZoneInfo

    at = datetime(2026, 1, 1, 1, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert archive_time(archive_name(at)) == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)


def test_archive_name_refuses_a_naive_time():
    with pytest.raises(ValueError, match="aware"):
        archive_name(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    "name",
    [
        "notes.txt",
        ".bastion-20261125T223000Z-abcdef.tar.gpg.partial",
        "bastion-20261125T223000Z-abcdef.tar",
        "bastion-20261325T223000Z-abcdef.tar.gpg",  # month 13
        "bastion-20261125T223000Z-ABCDEF.tar.gpg",
        "bastion-20261125T223000Z-abcdef.tar.gpg/../x",
        "x/bastion-20261125T223000Z-abcdef.tar.gpg",
    ],
)
def test_names_that_are_not_ours_have_no_archive_time(name):
    assert archive_time(name) is None


# --- Keep ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d,4w,12m", Keep(7, 4, 12)),
        ("12m, 7d ,4w", Keep(7, 4, 12)),
        ("30d", Keep(30, 0, 0)),
        ("2w,3m", Keep(0, 2, 3)),
    ],
)
def test_retention_reads_any_order_and_any_subset(text, expected):
    assert Keep.parse(text) == expected
    assert Keep.parse(str(expected)) == expected


def test_retention_prints_back_as_it_is_configured():
    assert str(Keep(7, 4, 12)) == "7d,4w,12m"
    assert str(Keep(30, 0, 0)) == "30d"
    assert str(Keep(0, 0, 0)) == "0d"


@pytest.mark.parametrize("text", ["", "7", "7x", "seven days", "7d;4w", "7d,,4w", "-1d", "7d,8d", "1.5m"])
def test_retention_refuses_junk_with_a_clear_message(text):
    with pytest.raises(ValueError, match="backup retention"):
        Keep.parse(text)


def test_the_retention_horizon_is_the_longest_of_its_rules():
    assert Keep(7, 4, 12).horizon == timedelta(days=12 * 31)
    assert Keep(60, 4, 1).horizon == timedelta(days=60)
    assert Keep(1, 10, 2).horizon == timedelta(days=70)


# --- directories --------------------------------------------------------------------------------------


@pytest.fixture
def directory(tmp_path: Path) -> DirectoryDestination:
    path = tmp_path / "disk2"
    path.mkdir()
    return DirectoryDestination(path, keep=KEEP)


def test_a_directory_is_a_destination(directory):
    assert directory.name == f"dir:{directory.path}"
    assert isinstance(directory, Destination)


def test_a_directory_stores_a_private_copy_and_lists_fetches_and_deletes_it(directory, archive, tmp_path):
    name = archive_name(datetime.now(UTC))
    copy = directory.store(archive, name)

    stored = directory.path / name
    assert copy.location == str(stored) == directory.locate(name)
    assert copy.retain_until is None
    assert stored.read_bytes() == archive.read_bytes()
    assert stored.stat().st_mode & 0o777 == 0o600
    assert sorted(os.listdir(directory.path)) == [name]  # no partial file left behind
    assert directory.archives() == [name]
    assert directory.fetch(name, tmp_path / "scratch") == stored

    directory.delete(name)
    directory.delete(name)  # deleting again is fine: prunes get retried
    assert directory.archives() == []


def test_a_directory_lists_only_its_archives_oldest_first(directory):
    older, newer = name_at(datetime(2026, 1, 2, tzinfo=UTC)), name_at(datetime(2026, 3, 1, tzinfo=UTC))
    for name in (newer, older, "notes.txt", f".{newer}.partial"):
        (directory.path / name).write_bytes(b"x")
    (directory.path / name_at(datetime(2026, 2, 1, tzinfo=UTC))).mkdir()
    (directory.path / name_at(datetime(2026, 2, 2, tzinfo=UTC))).symlink_to(directory.path / older)
    assert directory.archives() == [older, newer]


def test_a_missing_directory_is_reported_and_never_created(tmp_path, archive):
    missing = DirectoryDestination(tmp_path / "not-mounted", keep=KEEP)
    with pytest.raises(DestinationError, match=r"not-mounted does not exist"):
        missing.check()
    with pytest.raises(DestinationError, match="does not exist"):
        missing.store(archive, archive_name(datetime.now(UTC)))
    with pytest.raises(DestinationError, match="does not exist"):
        missing.archives()
    assert not missing.path.exists()


def test_a_file_is_not_a_directory_destination(tmp_path):
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(DestinationError, match="is not a directory"):
        DirectoryDestination(tmp_path / "file", keep=KEEP).check()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory modes")
def test_an_unwritable_directory_is_reported(directory, archive):
    directory.path.chmod(0o500)
    try:
        with pytest.raises(DestinationError, match="is not writable"):
            directory.store(archive, archive_name(datetime.now(UTC)))
    finally:
        directory.path.chmod(0o700)
    assert directory.archives() == []


def test_it_refuses_to_start_a_copy_the_disk_has_no_room_for(directory, archive, monkeypatch):
    real_statvfs = os.statvfs

    class Full:
        def __init__(self, path):
            stats = real_statvfs(path)
            self.f_frsize = stats.f_frsize
            self.f_bavail = 1

    monkeypatch.setattr(destinations.os, "statvfs", Full)
    with pytest.raises(DestinationError, match=rf"no space left on {directory.path} \(needed 300000 bytes"):
        directory.store(archive, archive_name(datetime.now(UTC)))
    assert os.listdir(directory.path) == []


def test_a_disk_filling_up_mid_copy_leaves_no_partial_and_older_archives_untouched(
    directory, archive, monkeypatch
):
    older = archive_name(datetime.now(UTC) - timedelta(days=1))
    directory.store(archive, older)

    def fill_the_disk(source, target):
        target.write(source.read(1000))
        target.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(destinations, "_copy_bytes", fill_the_disk)
    with pytest.raises(DestinationError, match=f"no space left on {directory.path}"):
        directory.store(archive, archive_name(datetime.now(UTC)))
    assert os.listdir(directory.path) == [older]
    assert (directory.path / older).read_bytes() == archive.read_bytes()


def test_other_write_errors_are_reported_with_the_destination(directory, archive, monkeypatch):
    def broken_disk(source, target):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(destinations, "_copy_bytes", broken_disk)
    with pytest.raises(DestinationError, match=f"{directory.path}: writing .* failed: Input/output error"):
        directory.store(archive, archive_name(datetime.now(UTC)))
    assert os.listdir(directory.path) == []


def test_a_directory_never_overwrites_an_archive(directory, archive):
    name = archive_name(datetime.now(UTC))
    (directory.path / name).write_bytes(b"the good one")
    with pytest.raises(DestinationError, match="already holds"):
        directory.store(archive, name)
    assert (directory.path / name).read_bytes() == b"the good one"


@pytest.mark.parametrize("name", ["../escape.tar.gpg", "notes.txt", "/etc/passwd"])
def test_a_directory_refuses_names_that_are_not_archive_names(directory, archive, name, tmp_path):
    with pytest.raises(DestinationError, match="is not a Bastion archive name"):
        directory.store(archive, name)
    with pytest.raises(DestinationError, match="is not a Bastion archive name"):
        directory.delete(name)
    with pytest.raises(DestinationError, match="is not a Bastion archive name"):
        directory.fetch(name, tmp_path)


def test_fetching_an_archive_a_directory_lacks_is_an_error(directory, tmp_path):
    with pytest.raises(DestinationError, match="has no archive"):
        directory.fetch(archive_name(datetime.now(UTC)), tmp_path)


# --- S3 -----------------------------------------------------------------------------------------------


def fresh_bucket(endpoint: str, **lock) -> str:
    bucket = f"bastion-{uuid.uuid4().hex[:12]}"
    make_bucket(endpoint, bucket, **lock)
    return bucket


def test_a_bucket_stores_big_archives_in_parts_and_lists_fetches_and_deletes_them(s3_endpoint, tmp_path):
    bucket = fresh_bucket(s3_endpoint)
    big = tmp_path / "big"
    big.write_bytes(os.urandom(11 * MIB))
    destination = S3Destination(
        bucket, prefix="/site/a/", endpoint_url=s3_endpoint, keep=KEEP, part_size=5 * MIB
    )
    assert isinstance(destination, Destination)
    assert destination.name == f"s3:{bucket}/site/a"
    parts = []
    destination.client.meta.events.register("before-call.s3.UploadPart", lambda **kw: parts.append(1))
    destination.check()

    name = archive_name(datetime.now(UTC))
    copy = destination.store(big, name)

    assert copy.location == f"s3://{bucket}/site/a/{name}" == destination.locate(name)
    assert copy.retain_until is None
    assert len(parts) == 3
    assert destination.archives() == [name]
    fetched = destination.fetch(name, tmp_path / "scratch")
    assert fetched == tmp_path / "scratch" / name
    assert fetched.read_bytes() == big.read_bytes()
    assert fetched.stat().st_mode & 0o777 == 0o600

    destination.delete(name)
    destination.delete(name)
    assert destination.archives() == []


def test_a_bucket_lists_only_the_archives_under_its_prefix(s3_endpoint):
    bucket = fresh_bucket(s3_endpoint)
    client = s3_client(s3_endpoint)
    older, newer = name_at(datetime(2026, 1, 2, tzinfo=UTC)), name_at(datetime(2026, 3, 1, tzinfo=UTC))
    for key in (
        f"site/{newer}",
        f"site/{older}",
        "site/notes.txt",
        f"site/deeper/{older}",
        f"other/{older}",
        f"sitex/{older}",
        older,
    ):
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert S3Destination(bucket, prefix="site", endpoint_url=s3_endpoint, keep=KEEP).archives() == [
        older,
        newer,
    ]
    assert S3Destination(bucket, endpoint_url=s3_endpoint, keep=KEEP).archives() == [older]


def test_a_failed_multipart_upload_leaves_nothing_in_the_bucket(s3_endpoint, tmp_path):
    bucket = fresh_bucket(s3_endpoint)
    big = tmp_path / "big"
    big.write_bytes(os.urandom(11 * MIB))
    destination = S3Destination(bucket, endpoint_url=s3_endpoint, keep=KEEP, part_size=5 * MIB)

    def drop_the_line_on_part_two(params, **kwargs):
        if params["query_string"].get("partNumber") == 2:
            raise EndpointConnectionError(endpoint_url=s3_endpoint)

    destination.client.meta.events.register("before-call.s3.UploadPart", drop_the_line_on_part_two)
    with pytest.raises(
        DestinationError, match=f"S3 bucket {bucket}: endpoint .* unreachable while uploading"
    ):
        destination.store(big, archive_name(datetime.now(UTC)))

    client = s3_client(s3_endpoint)
    assert client.list_objects_v2(Bucket=bucket).get("Contents", []) == []
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_a_locked_bucket_locks_each_archive_and_refuses_to_delete_it_early(s3_endpoint, archive):
    bucket = fresh_bucket(s3_endpoint, object_lock=True, lock_days=3)
    destination = S3Destination(bucket, endpoint_url=s3_endpoint, keep=KEEP)
    destination.check()
    before = datetime.now(UTC).replace(microsecond=0)

    name = archive_name(datetime.now(UTC))
    copy = destination.store(archive, name)

    assert copy.retain_until is not None
    assert before + timedelta(days=3) <= copy.retain_until <= datetime.now(UTC) + timedelta(days=3)
    head = s3_client(s3_endpoint).head_object(Bucket=bucket, Key=name)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] == copy.retain_until
    with pytest.raises(
        DestinationError, match=r"is locked \(GOVERNANCE\) until .* pruned once the lock expires"
    ):
        destination.delete(name)
    assert destination.archives() == [name]


def test_lock_days_from_the_spec_override_the_bucket_default(s3_endpoint, archive):
    bucket = fresh_bucket(s3_endpoint, object_lock=True, lock_days=30)
    destination = S3Destination(bucket, endpoint_url=s3_endpoint, keep=KEEP, lock_days=2)
    copy = destination.store(archive, archive_name(datetime.now(UTC)))
    assert copy.retain_until is not None
    assert copy.retain_until - datetime.now(UTC) < timedelta(days=2)
    assert copy.retain_until - datetime.now(UTC) > timedelta(days=1, hours=23)


def test_a_multipart_upload_into_a_locked_bucket_asks_for_the_lock(s3_endpoint, tmp_path):
    # moto ignores Object Lock on multipart uploads, so look at what we ask S3 to do.
    bucket = fresh_bucket(s3_endpoint, object_lock=True)
    big = tmp_path / "big"
    big.write_bytes(os.urandom(6 * MIB))
    destination = S3Destination(bucket, endpoint_url=s3_endpoint, keep=KEEP, lock_days=5, part_size=5 * MIB)
    asked = []
    destination.client.meta.events.register(
        "provide-client-params.s3.CreateMultipartUpload", lambda params, **kw: asked.append(dict(params))
    )
    copy = destination.store(big, archive_name(datetime.now(UTC)))
    assert len(asked) == 1
    assert asked[0]["ObjectLockMode"] == "GOVERNANCE"
    assert asked[0]["ObjectLockRetainUntilDate"] == copy.retain_until
    assert asked[0]["ChecksumAlgorithm"] == "SHA256"


def test_a_locked_bucket_without_a_default_rule_and_no_lock_days_stores_unlocked(s3_endpoint, archive):
    bucket = fresh_bucket(s3_endpoint, object_lock=True)
    destination = S3Destination(bucket, endpoint_url=s3_endpoint, keep=KEEP)
    name = archive_name(datetime.now(UTC))
    assert destination.store(archive, name).retain_until is None
    destination.delete(name)
    assert destination.archives() == []


def test_lock_days_on_a_bucket_without_object_lock_is_an_error(s3_endpoint, archive):
    bucket = fresh_bucket(s3_endpoint)
    destination = S3Destination(bucket, endpoint_url=s3_endpoint, keep=KEEP, lock_days=7)
    with pytest.raises(DestinationError, match="lock_days=7 is configured but the bucket has no Object Lock"):
        destination.check()
    with pytest.raises(DestinationError, match="has no Object Lock"):
        destination.store(archive, archive_name(datetime.now(UTC)))
    assert destination.archives() == []


def test_deleting_from_a_versioned_bucket_removes_every_version(s3_endpoint, archive):
    bucket = fresh_bucket(s3_endpoint)
    client = s3_client(s3_endpoint)
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    destination = S3Destination(bucket, endpoint_url=s3_endpoint, keep=KEEP)
    name, other = archive_name(datetime.now(UTC)), archive_name(datetime.now(UTC) - timedelta(days=1))
    destination.store(archive, name)
    destination.store(archive, name)  # a second version under the same key
    destination.store(archive, other)

    destination.delete(name)

    versions = client.list_object_versions(Bucket=bucket)
    left = [item["Key"] for item in versions.get("Versions", []) + versions.get("DeleteMarkers", [])]
    assert left == [other]


def test_a_missing_bucket_is_reported(s3_endpoint, archive, tmp_path):
    destination = S3Destination(f"missing-{uuid.uuid4().hex[:8]}", endpoint_url=s3_endpoint, keep=KEEP)
    with pytest.raises(DestinationError, match=f"S3 bucket {destination.bucket}: no such bucket"):
        destination.check()
    with pytest.raises(DestinationError, match="no such bucket"):
        destination.store(archive, archive_name(datetime.now(UTC)))
    with pytest.raises(DestinationError, match="no such bucket"):
        destination.archives()


def test_fetching_an_archive_the_bucket_lacks_is_an_error(s3_endpoint, tmp_path):
    destination = S3Destination(fresh_bucket(s3_endpoint), endpoint_url=s3_endpoint, keep=KEEP)
    with pytest.raises(DestinationError, match="no archive"):
        destination.fetch(archive_name(datetime.now(UTC)), tmp_path)


def test_an_unreachable_endpoint_is_reported(s3_endpoint):
    dead = "http://127.0.0.1:9"  # the discard port: nothing listens there
    destination = S3Destination("bucket", endpoint_url=dead, keep=KEEP, attempts=1)
    with pytest.raises(DestinationError, match=f"endpoint {dead} unreachable while checking"):
        destination.check()
    with pytest.raises(DestinationError, match="unreachable while listing"):
        destination.archives()


def test_missing_credentials_are_reported(s3_endpoint, monkeypatch, tmp_path):
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(variable)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    destination = S3Destination("bucket", endpoint_url=s3_endpoint, keep=KEEP)
    with pytest.raises(DestinationError, match=r"no credentials .*AWS_ACCESS_KEY_ID"):
        destination.check()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("AccessDenied", "access denied while deleting x .*AWS_ACCESS_KEY_ID"),
        ("InvalidAccessKeyId", "access denied"),
        ("NoSuchBucket", "no such bucket"),
        ("SlowDown", "deleting x failed: SlowDown Please reduce"),
    ],
)
def test_s3_errors_become_messages_an_operator_can_act_on(code, expected):
    destination = S3Destination("b", keep=KEEP)
    error = ClientError(
        {"Error": {"Code": code, "Message": "Please reduce your request rate"}}, "DeleteObject"
    )
    assert str(destination._failure(error, "deleting x")).startswith("S3 bucket b: ")
    with pytest.raises(DestinationError, match=expected):
        raise destination._failure(error, "deleting x")


# --- specs --------------------------------------------------------------------------------------------


def test_an_absolute_path_is_a_directory_destination():
    destination = parse_destination("/srv/backup//disk2/", default_keep=KEEP)
    assert isinstance(destination, DirectoryDestination)
    assert destination.path == Path("/srv/backup/disk2")
    assert destination.name == "dir:/srv/backup/disk2"
    assert destination.keep == KEEP


def test_a_file_url_is_a_directory_destination_with_options():
    destination = parse_destination("file:///srv/my%20disk?keep=30d&name=second-disk", default_keep=KEEP)
    assert isinstance(destination, DirectoryDestination)
    assert destination.path == Path("/srv/my disk")
    assert destination.keep == Keep(30, 0, 0)
    assert destination.name == "second-disk"


def test_an_s3_url_is_a_bucket_destination_with_options():
    destination = parse_destination(
        "s3://backups/bastion/prod/?endpoint=https://s3.example.net:9000&region=eu-central-1"
        "&keep=7d,4w&lock_days=30&name=offsite",
        default_keep=KEEP,
    )
    assert isinstance(destination, S3Destination)
    assert (destination.bucket, destination.prefix) == ("backups", "bastion/prod")
    assert destination.endpoint_url == "https://s3.example.net:9000"
    assert destination.region == "eu-central-1"
    assert destination.keep == Keep(7, 4, 0)
    assert destination.lock_days == 30
    assert destination.name == "offsite"


def test_an_s3_url_names_itself_after_bucket_and_prefix():
    assert parse_destination("s3://backups", default_keep=KEEP).name == "s3:backups"
    bucket = parse_destination("s3://backups/a/b", default_keep=KEEP)
    assert bucket.name == "s3:backups/a/b"
    assert bucket.keep == KEEP
    assert bucket.locate("n") == "s3://backups/a/b/n"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("backups/disk2", "is not an absolute path"),
        ("~/backups", "is not an absolute path"),
        ("ftp://host/backups", "unknown kind"),
        ("file://host/srv/backups", "name no host"),
        ("s3://", "no bucket"),
        ("/srv/backups?colour=blue", "unknown option 'colour'"),
        ("/srv/backups?lock_days=3", "unknown option 'lock_days'"),
        ("/srv/backups?keep=7x", "backup retention '7x'"),
        ("/srv/backups?keep=1d&keep=2d", "'keep' is given twice"),
        ("/srv/backups?name=", "'name' is empty"),
        ("/srv/backups?junk", "malformed query"),
        ("s3://b?lock_days=0", "lock_days must be a whole number"),
        ("s3://b?lock_days=ten", "lock_days must be a whole number"),
        ("s3://b?endpoint=s3.example.net", "endpoint must start with http"),
        (f"/srv/{'x' * 120}", "longer than 100 characters"),
    ],
)
def test_bad_specs_get_a_clear_error(spec, message):
    with pytest.raises(DestinationSpecError, match=message) as raised:
        parse_destination(spec, default_keep=KEEP)
    assert isinstance(raised.value, ValueError)


def test_the_configured_destinations_come_from_the_settings(settings):
    settings.BACKUP_DESTINATIONS = ["/srv/disk2", "s3://backups/site?keep=30d"]
    settings.BACKUP_KEEP = "3d,2w"
    first, second = configured_destinations()
    assert (first.name, first.keep) == ("dir:/srv/disk2", Keep(3, 2, 0))
    assert (second.name, second.keep) == ("s3:backups/site", Keep(30, 0, 0))


def test_two_destinations_with_one_name_are_refused(settings):
    settings.BACKUP_DESTINATIONS = ["/srv/disk2", "/srv/disk3?name=dir:/srv/disk2"]
    with pytest.raises(DestinationSpecError, match="two destinations are named 'dir:/srv/disk2'"):
        configured_destinations()


def test_a_bad_default_retention_names_its_setting(settings):
    settings.BACKUP_DESTINATIONS = ["/srv/disk2"]
    settings.BACKUP_KEEP = "weekly"
    with pytest.raises(DestinationSpecError, match="BASTION_BACKUP_KEEP: backup retention 'weekly'"):
        configured_destinations()


def test_a_directory_that_refuses_writes_is_reported_even_to_root(directory, archive, monkeypatch):
    # Root passes the access check whatever the mode, and a read-only mount only fails on write.
    def read_only(path):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(destinations, "create_private_file", read_only)
    with pytest.raises(DestinationError, match=r"is not writable \(Read-only file system\)"):
        directory.store(archive, archive_name(datetime.now(UTC)))
    assert os.listdir(directory.path) == []


def test_an_upload_the_bucket_refuses_is_reported_without_local_paths(s3_endpoint, archive):
    destination = S3Destination(fresh_bucket(s3_endpoint), endpoint_url=s3_endpoint, keep=KEEP)

    def refuse(**kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutObject")

    destination.client.meta.events.register("before-call.s3.PutObject", refuse)
    with pytest.raises(DestinationError, match="access denied while uploading") as raised:
        destination.store(archive, archive_name(datetime.now(UTC)))
    assert str(archive.parent) not in str(raised.value)
    assert destination.archives() == []


def test_an_archive_under_legal_hold_is_not_deleted(s3_endpoint, archive):
    bucket = fresh_bucket(s3_endpoint, object_lock=True)
    destination = S3Destination(bucket, endpoint_url=s3_endpoint, keep=KEEP)
    name = archive_name(datetime.now(UTC))
    destination.store(archive, name)
    s3_client(s3_endpoint).put_object_legal_hold(Bucket=bucket, Key=name, LegalHold={"Status": "ON"})
    assert repr(destination) == f"<S3Destination s3:{bucket}>"
    with pytest.raises(DestinationError, match="is under an Object Lock legal hold"):
        destination.delete(name)
    assert destination.archives() == [name]
