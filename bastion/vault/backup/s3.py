"""Archives in S3-compatible buckets (boto3): multipart uploads, Object Lock, retention-aware deletes.

Its own module so that boto3 is imported only by an instance that has an ``s3://`` destination
(:func:`bastion.vault.backup.destinations.parse_destination` imports it on demand): importing
boto3 costs ~0.25 s, paid by every ``bastion backup``/``restore`` and worker start otherwise.
Credentials come from boto3's standard chain (``AWS_ACCESS_KEY_ID``, ...), never from our settings.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

# boto3 and botocore ship no type hints (no py.typed) and no stubs are installed.
import boto3  # type: ignore[import-untyped]  # untyped third-party package
from boto3.exceptions import S3UploadFailedError  # type: ignore[import-untyped]  # untyped package
from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]  # untyped package
from botocore.config import Config  # type: ignore[import-untyped]  # untyped package
from botocore.exceptions import (  # type: ignore[import-untyped]  # untyped package
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from bastion.vault.backup.destinations import (
    DEFAULT_PART_SIZE,
    DestinationError,
    Keep,
    StoredCopy,
    checked_name,
    sorted_archives,
)


def _error_code(exc: ClientError) -> str:
    code: str = exc.response.get("Error", {}).get("Code", "")
    return code


class S3Destination:
    """Archives as objects ``<prefix>/<name>`` in an S3-compatible bucket, multipart for big ones.

    When the bucket has Object Lock, each archive is stored locked (the bucket's default mode, else
    GOVERNANCE) for ``lock_days`` (else the bucket's default rule), so even stolen credentials cannot
    delete it early; pruning such an archive waits until its lock expires.
    """

    def __init__(
        self,
        bucket: str,
        *,
        keep: Keep,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        name: str | None = None,
        lock_days: int | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        attempts: int = 5,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.region = region
        self.keep = keep
        self.name = name or f"s3:{bucket}/{self.prefix}".rstrip("/")
        self.lock_days = lock_days
        self.part_size = part_size
        self.attempts = attempts

    def __repr__(self) -> str:
        return f"<S3Destination {self.name}>"

    @cached_property
    def client(self) -> Any:
        """A boto3 S3 client of its own (sessions are not thread-safe; ours is not shared)."""
        config = Config(
            # boto3 >= 1.36 sends CRC checksums by default, which many S3-compatible servers reject.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": self.attempts, "mode": "standard"},
            connect_timeout=10,
            read_timeout=120,
        )
        session = boto3.session.Session()
        return session.client("s3", endpoint_url=self.endpoint_url, region_name=self.region, config=config)

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def locate(self, name: str) -> str:
        """``s3://bucket/key``."""
        return f"s3://{self.bucket}/{self._key(name)}"

    def _failure(self, exc: Exception, doing: str) -> DestinationError:
        """Turn a boto3 error into words an operator can act on."""
        where = f"S3 bucket {self.bucket}"
        if isinstance(exc, S3UploadFailedError) and isinstance(exc.__context__, ClientError):
            exc = exc.__context__  # boto3 wraps the real error in a message holding local paths
        if isinstance(exc, ClientError):
            code = _error_code(exc)
            if code == "NoSuchBucket":
                return DestinationError(f"{where}: no such bucket")
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403", "Forbidden"):
                return DestinationError(
                    f"{where}: access denied while {doing} (check the AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY of this service and the bucket policy)"
                )
            message = exc.response.get("Error", {}).get("Message", "")
            return DestinationError(f"{where}: {doing} failed: {code} {message}".rstrip())
        if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
            endpoint = self.endpoint_url or "the AWS endpoint"
            return DestinationError(f"{where}: endpoint {endpoint} unreachable while {doing}")
        if isinstance(exc, NoCredentialsError):
            return DestinationError(
                f"{where}: no credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for this service)"
            )
        return DestinationError(f"{where}: {doing} failed: {exc}")

    def check(self) -> None:
        """The bucket exists and our credentials reach it; lock_days needs a bucket with Object Lock."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchBucket"):  # HEAD responses have no error body
                raise DestinationError(f"S3 bucket {self.bucket}: no such bucket") from exc
            raise self._failure(exc, "checking the bucket") from exc
        except BotoCoreError as exc:
            raise self._failure(exc, "checking the bucket") from exc
        self._lock_rule()

    def _lock_rule(self) -> tuple[str, int | None] | None:
        """(mode, days) if the bucket has Object Lock enabled, else None."""
        try:
            found = self.client.get_object_lock_configuration(Bucket=self.bucket)
            configuration = found.get("ObjectLockConfiguration", {})
        except ClientError as exc:
            # Buckets without lock, and S3-compatible servers that have no Object Lock at all.
            if _error_code(exc) not in ("ObjectLockConfigurationNotFoundError", "NotImplemented"):
                raise self._failure(exc, "reading the Object Lock configuration") from exc
            configuration = {}
        except BotoCoreError as exc:
            raise self._failure(exc, "reading the Object Lock configuration") from exc
        if configuration.get("ObjectLockEnabled") != "Enabled":
            if self.lock_days is not None:
                raise DestinationError(
                    f"S3 bucket {self.bucket}: lock_days={self.lock_days} is configured but the bucket "
                    "has no Object Lock (create the bucket with Object Lock, or drop lock_days)"
                )
            return None
        default = configuration.get("Rule", {}).get("DefaultRetention", {})
        default_days = default.get("Days") or (default["Years"] * 365 if default.get("Years") else None)
        return default.get("Mode") or "GOVERNANCE", self.lock_days or default_days

    def store(self, archive: Path, name: str) -> StoredCopy:
        """Upload (multipart above ``part_size``; boto3 aborts a failed multipart upload), locked if the
        bucket has Object Lock. On failure nothing is left under the key."""
        key = self._key(checked_name(name))
        extra: dict[str, Any] = {}
        retain_until = None
        lock = self._lock_rule()
        if lock is not None:
            mode, days = lock
            # S3 demands a checksum on uploads into a locked bucket; with "when_required" boto3
            # sends one only when asked, so ask.
            extra["ChecksumAlgorithm"] = "SHA256"
            if days:
                retain_until = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
                extra |= {"ObjectLockMode": mode, "ObjectLockRetainUntilDate": retain_until}
        transfer = TransferConfig(multipart_threshold=self.part_size, multipart_chunksize=self.part_size)
        try:
            self.client.upload_file(str(archive), self.bucket, key, ExtraArgs=extra, Config=transfer)
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
            raise self._failure(exc, f"uploading {name}") from exc
        return StoredCopy(location=self.locate(name), retain_until=retain_until)

    def archives(self) -> list[str]:
        """Our archives directly under the prefix, oldest first."""
        start = f"{self.prefix}/" if self.prefix else ""
        names: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start, Delimiter="/"
            )
            for page in pages:
                names.extend(item["Key"][len(start) :] for item in page.get("Contents", []))
        except (ClientError, BotoCoreError) as exc:
            raise self._failure(exc, "listing archives") from exc
        return sorted_archives(names)

    def fetch(self, name: str, into: Path) -> Path:
        """Download into ``into/<name>`` (0600); boto3 writes a temp file and renames it when complete."""
        key = self._key(checked_name(name))
        into.mkdir(parents=True, exist_ok=True)
        target = into / name
        try:
            self.client.download_file(self.bucket, key, str(target))
        except ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchKey"):
                raise DestinationError(f"S3 bucket {self.bucket}: no archive {key}") from exc
            raise self._failure(exc, f"downloading {name}") from exc
        except BotoCoreError as exc:
            raise self._failure(exc, f"downloading {name}") from exc
        target.chmod(0o600)
        return target

    def _versions(self, key: str) -> list[str | None]:
        """Every version id stored under exactly ``key`` (delete markers too); ``[None]`` if the server
        cannot list versions.

        Deleting an archive must remove all versions: in a versioned bucket a plain delete only
        hides the object, and the old data key it holds would outlive the retention window.
        """
        versions: list[str | None] = []
        try:
            pages = self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=key)
            for page in pages:
                for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                    if item["Key"] == key:
                        versions.append(item["VersionId"])
        except ClientError as exc:
            if _error_code(exc) == "NotImplemented":
                return [None]
            raise self._failure(exc, "listing versions") from exc
        except BotoCoreError as exc:
            raise self._failure(exc, "listing versions") from exc
        return versions

    def delete(self, name: str) -> None:
        """Delete every version of the archive; an archive still under Object Lock is refused clearly."""
        key = self._key(checked_name(name))
        for version in self._versions(key):
            target = {"Bucket": self.bucket, "Key": key} | ({"VersionId": version} if version else {})
            try:
                self.client.delete_object(**target)
            except ClientError as exc:
                if _error_code(exc) == "AccessDenied":
                    self._explain_lock(target, name)
                raise self._failure(exc, f"deleting {name}") from exc
            except BotoCoreError as exc:
                raise self._failure(exc, f"deleting {name}") from exc

    def _explain_lock(self, target: dict[str, str], name: str) -> None:
        """Raise a clear error if the object version is still retained by Object Lock."""
        try:
            head = self.client.head_object(**target)
        except (ClientError, BotoCoreError):
            return  # not readable either: the caller's access-denied message stands
        until = head.get("ObjectLockRetainUntilDate")
        if head.get("ObjectLockLegalHoldStatus") == "ON":
            raise DestinationError(f"{self.locate(name)} is under an Object Lock legal hold; not deleted")
        if until is not None and until > datetime.now(UTC):
            raise DestinationError(
                f"{self.locate(name)} is locked ({head.get('ObjectLockMode', 'Object Lock')}) until "
                f"{until:%Y-%m-%d %H:%M} UTC; it will be pruned once the lock expires"
            )
