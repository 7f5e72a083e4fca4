"""The hash format is a published contract: an outside verifier must get the same answer."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import TransactionTestCase

from bastion.audit import services, triggers
from bastion.audit.chain import GENESIS_HASH, clean_data, row_hash
from bastion.audit.testing import flush_allowed

WHEN = datetime(2026, 11, 2, 9, 30, 0, 5, tzinfo=UTC)
FIELDS = {
    "id": 7,
    "occurred_at": WHEN,
    "event": "auth.login_failed",
    "actor_id": None,
    "actor_label": "mallory@example.com",
    "actor_kind": "anonymous",
    "target_type": "",
    "target_id": "",
    "ip": "192.0.2.7",
    "data": {"reason": "bad password", "attempt": 3},
}


def test_the_hash_is_sha256_of_the_previous_hash_and_the_canonical_row():
    # Written out by hand, exactly as chain.py's docstring specifies it.
    canonical = (
        '{"actor_id":null,"actor_kind":"anonymous","actor_label":"mallory@example.com",'
        '"data":{"attempt":3,"reason":"bad password"},"event":"auth.login_failed","id":7,'
        '"ip":"192.0.2.7","occurred_at":"2026-11-02T09:30:00.000005+00:00","target_id":"",'
        '"target_type":""}'
    )
    expected = hashlib.sha256((GENESIS_HASH + canonical).encode("utf-8")).hexdigest()

    assert row_hash(GENESIS_HASH, FIELDS) == expected


def test_the_same_instant_in_another_zone_hashes_the_same():
    paris = timezone(timedelta(hours=1))
    same_instant = {**FIELDS, "occurred_at": WHEN.astimezone(paris)}

    assert row_hash(GENESIS_HASH, same_instant) == row_hash(GENESIS_HASH, FIELDS)


def test_every_field_and_the_link_change_the_hash():
    base = row_hash(GENESIS_HASH, FIELDS)

    assert row_hash("1" * 64, FIELDS) != base
    for name, other in [("id", 8), ("actor_label", "eve@example.com"), ("data", {}), ("ip", None)]:
        assert row_hash(GENESIS_HASH, {**FIELDS, name: other}) != base, name


def test_it_refuses_a_naive_timestamp():
    with pytest.raises(ValueError, match="timezone-aware"):
        row_hash(GENESIS_HASH, {**FIELDS, "occurred_at": datetime(2026, 11, 2, 9, 30)})


def test_it_refuses_data_that_is_not_a_mapping():
    with pytest.raises(TypeError, match="mapping"):
        clean_data(["not", "a", "mapping"])  # type: ignore[arg-type]


def test_it_supports_only_sqlite_and_postgresql():
    other = SimpleNamespace(vendor="mysql")

    with pytest.raises(ImproperlyConfigured, match="mysql"):
        services._lock_chain(other)  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError, match="mysql"):
        triggers.install(other)  # type: ignore[arg-type]


def test_flush_allowed_wraps_only_once_and_restores_django():
    untouched = TransactionTestCase._fixture_teardown  # type: ignore[attr-defined]

    with flush_allowed():
        wrapped = TransactionTestCase._fixture_teardown  # type: ignore[attr-defined]
        with flush_allowed():
            assert TransactionTestCase._fixture_teardown is wrapped  # type: ignore[attr-defined]

    # The root conftest's session-wide wrapper may be in place; either way we put back what we found.
    assert TransactionTestCase._fixture_teardown is untouched  # type: ignore[attr-defined]
