"""Flood counters: each scope trips at its limit, resets with the next window, and never loses a count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.intake.checks import check_flood_limits
from bastion.intake.flood import (
    BLOCK_FACTOR,
    FloodVerdict,
    Limit,
    Scope,
    check_flood,
    email_digest,
    ip_digest,
    limit_for,
    peek_flood,
    prune_flood_counters,
)
from bastion.intake.models import FloodCounter
from bastion.test import run_at_once

pytestmark = pytest.mark.django_db

# 12:00:00 sharp: on the grid of every window length used below.
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
OK = FloodVerdict(allowed=True, needs_challenge=False, scope=None)


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.INTAKE_LIMIT_PER_IP = "3/60"
    settings.INTAKE_LIMIT_PER_EMAIL = "2/60"
    settings.INTAKE_LIMIT_GLOBAL = "100/60"


def attempts(n, **kwargs):
    return [check_flood(**{"ip": "192.0.2.1", "now": NOON, **kwargs}) for _ in range(n)]


def test_an_ip_trips_at_its_limit_and_then_needs_a_challenge():
    verdicts = attempts(4)

    assert verdicts[:3] == [OK] * 3
    assert verdicts[3] == FloodVerdict(allowed=True, needs_challenge=True, scope="ip")
    # Another address is unaffected.
    assert check_flood(ip="192.0.2.2", now=NOON) == OK


def test_an_email_address_trips_at_its_limit_whatever_the_ip():
    digest = email_digest("rita@researcher.example")

    verdicts = [check_flood(ip=f"192.0.2.{n}", email_digest=digest, now=NOON) for n in range(3)]

    assert verdicts[:2] == [OK] * 2
    assert verdicts[2] == FloodVerdict(allowed=True, needs_challenge=True, scope="email")
    assert email_digest("  Rita@Researcher.EXAMPLE ") == digest


def test_the_global_limit_trips_for_everyone(settings):
    settings.INTAKE_LIMIT_GLOBAL = "5/60"

    verdicts = [check_flood(ip=f"198.51.100.{n}", now=NOON) for n in range(6)]

    assert verdicts[:5] == [OK] * 5
    assert verdicts[5] == FloodVerdict(allowed=True, needs_challenge=True, scope="global")
    assert check_flood(ip="203.0.113.9", now=NOON).needs_challenge


def test_counters_reset_in_the_next_window():
    with time_machine.travel(NOON + timedelta(seconds=10), tick=False):
        assert [check_flood(ip="192.0.2.1") for _ in range(4)][-1].needs_challenge

    with time_machine.travel(NOON + timedelta(seconds=59), tick=False):
        assert check_flood(ip="192.0.2.1").needs_challenge
    with time_machine.travel(NOON + timedelta(seconds=60), tick=False):
        assert check_flood(ip="192.0.2.1") == OK


def test_an_ip_far_over_its_limit_is_refused(settings):
    verdicts = attempts(3 * BLOCK_FACTOR + 1)

    assert verdicts[-2] == FloodVerdict(allowed=True, needs_challenge=True, scope="ip")
    assert verdicts[-1] == FloodVerdict(allowed=False, needs_challenge=True, scope="ip")


def test_an_email_address_is_never_blocked_only_challenged():
    # The address is whatever the sender typed: blocking on it would let anyone silence its owner.
    digest = email_digest("rita@researcher.example")

    verdicts = [
        check_flood(ip=f"10.0.{n // 250}.{n % 250}", email_digest=digest, now=NOON) for n in range(20)
    ]

    assert verdicts[-1] == FloodVerdict(allowed=True, needs_challenge=True, scope="email")


def test_ipv6_clients_are_counted_per_64():
    assert ip_digest("2001:db8:1:2::1") == ip_digest("2001:db8:1:2:ffff::9")
    assert ip_digest("2001:db8:1:3::1") != ip_digest("2001:db8:1:2::1")
    assert ip_digest("::ffff:192.0.2.1") == ip_digest("192.0.2.1")
    assert ip_digest("not an address") != ip_digest("192.0.2.1")

    verdicts = [check_flood(ip=f"2001:db8:1:2::{n}", now=NOON) for n in range(1, 5)]
    assert verdicts[-1].scope == "ip"


def test_tripping_is_audited_once_per_level_and_window():
    attempts(3 * BLOCK_FACTOR + 5)

    events = AuditEvent.objects.filter(event=Event.FLOOD_TRIPPED).order_by("id")
    assert [e.data["level"] for e in events] == ["challenge", "block"]
    first = events[0]
    assert first.data == {
        "scope": "ip",
        "level": "challenge",
        "limit": "3/60",
        "window_start": NOON.isoformat(),
    }
    assert (first.actor_kind, first.ip, first.target_type) == ("anonymous", "192.0.2.1", "intake.flood")
    assert "192.0.2.1" not in str(first.data)


def test_the_table_holds_no_addresses():
    check_flood(ip="192.0.2.77", email_digest=email_digest("rita@researcher.example"), now=NOON)

    rows = list(FloodCounter.objects.values_list("scope", "key_digest", "count"))
    assert sorted(scope for scope, _, _ in rows) == ["email", "global", "ip"]
    assert all("192.0.2.77" not in key and "rita" not in key for _, key, _ in rows)


def test_peeking_counts_nothing():
    attempts(3)

    assert peek_flood(ip="192.0.2.1", now=NOON) == FloodVerdict(
        allowed=True, needs_challenge=True, scope="ip"
    )
    assert peek_flood(ip="192.0.2.2", now=NOON) == OK
    assert FloodCounter.objects.get(scope="ip", key_digest=ip_digest("192.0.2.1")).count == 3


def test_pruning_drops_only_finished_windows():
    attempts(2)
    attempts(1, now=NOON + timedelta(seconds=60))

    assert prune_flood_counters(now=NOON + timedelta(seconds=61)) == 2  # ip + global of the old window
    assert set(FloodCounter.objects.values_list("window_start", flat=True)) == {NOON + timedelta(seconds=60)}
    assert prune_flood_counters(now=NOON + timedelta(seconds=61)) == 0


@pytest.mark.parametrize("raw", ["10", "ten/60", "0/60", "10/0", "10/999999", "", "5/60/2"])
def test_malformed_limits_are_refused(raw):
    with pytest.raises(ImproperlyConfigured, match="INTAKE_LIMIT_PER_IP"):
        Limit.parse("INTAKE_LIMIT_PER_IP", raw)


def test_a_malformed_limit_fails_the_start_up_checks(settings):
    assert check_flood_limits() == []
    settings.INTAKE_LIMIT_GLOBAL = "lots"

    errors = check_flood_limits()

    assert [e.id for e in errors] == ["intake.E001"]
    assert "INTAKE_LIMIT_GLOBAL" in errors[0].msg


def test_defaults_apply_until_the_settings_are_wired(settings):
    del settings.INTAKE_LIMIT_PER_IP

    assert Limit.parse("x", "10/3600") == Limit(10, 3600)
    assert str(Limit(10, 3600)) == "10/3600"
    assert limit_for(Scope.IP) == Limit(10, 3600)


@pytest.mark.django_db(transaction=True)
def test_concurrent_attempts_lose_no_count(settings):
    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
        pytest.skip("needs a file or server database")
    settings.INTAKE_LIMIT_PER_IP = "1000/60"
    threads_n, each = 4, 10

    def hammer() -> None:
        for _ in range(each):
            check_flood(ip="192.0.2.1", now=NOON)

    run_at_once(hammer, times=threads_n)

    assert FloodCounter.objects.get(scope="ip").count == threads_n * each
    assert FloodCounter.objects.get(scope="global").count == threads_n * each


def test_a_client_address_that_is_not_an_ip_is_counted_but_not_put_in_the_audit_trail():
    verdicts = [check_flood(ip="unknown", now=NOON) for _ in range(4)]

    assert verdicts[-1].scope == "ip"
    assert AuditEvent.objects.get(event=Event.FLOOD_TRIPPED).ip is None


def test_counters_describe_themselves_without_the_key():
    check_flood(ip="192.0.2.1", now=NOON)

    text = str(FloodCounter.objects.get(scope="ip"))
    assert text.startswith("ip ")
    assert text.endswith("2026-11-25 12:00:00: 1")
