"""Test helpers any app's tests can import: an S3 server (moto) on loopback, and buckets in it.

Not imported by production code: moto is a development dependency only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Fake credentials for the moto server; boto3 reads them from the environment like real ones.
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bastion-test",
    "AWS_SECRET_ACCESS_KEY": "bastion-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Unset while the server runs, so a developer's own AWS profile or session can't leak into a test.
_HIDDEN_AWS_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL")


@contextmanager
def moto_s3_server() -> Iterator[str]:
    """Run moto's S3 server on 127.0.0.1 (a free port) with fake AWS credentials; yield its URL.

    The credentials are set in ``os.environ`` for the duration and the environment is restored after.
    """
    from moto.server import ThreadedMotoServer  # a dev dependency: imported only when used

    saved = {key: os.environ.get(key) for key in (*FAKE_AWS_ENV, *_HIDDEN_AWS_ENV)}
    for key in _HIDDEN_AWS_ENV:
        os.environ.pop(key, None)
    os.environ.update(FAKE_AWS_ENV)
    # werkzeug logs every request at INFO to stderr: noise in every failing test's output.
    werkzeug_log = logging.getLogger("werkzeug")
    saved_level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        werkzeug_log.setLevel(saved_level)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def s3_client(endpoint: str) -> Any:
    """A plain boto3 S3 client for ``endpoint`` (for tests to look behind a destination's back)."""
    import boto3  # type: ignore[import-untyped]  # boto3 ships no type hints

    return boto3.session.Session().client("s3", endpoint_url=endpoint, region_name="us-east-1")


def make_bucket(
    endpoint: str,
    name: str,
    *,
    object_lock: bool = False,
    lock_days: int | None = None,
    lock_mode: str = "GOVERNANCE",
) -> None:
    """Create bucket ``name``; with ``object_lock``, Object Lock on, and a default rule if ``lock_days``."""
    client = s3_client(endpoint)
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)
    if object_lock and lock_days:
        client.put_object_lock_configuration(
            Bucket=name,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": lock_mode, "Days": lock_days}},
            },
        )
