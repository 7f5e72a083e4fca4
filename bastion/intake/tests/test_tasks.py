"""The hourly prune: finished flood windows and expired spent challenges go, current ones stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from bastion.intake.flood import check_flood
from bastion.intake.models import FloodCounter, UsedChallenge
from bastion.intake.tasks import prune_intake_counters
from bastion.worker.scheduler import registered_jobs

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_it_is_registered_to_run_hourly():
    job = registered_jobs()["bastion.intake.tasks.prune_intake_counters"]

    assert job.every == timedelta(hours=1)


def test_it_prunes_what_can_no_longer_matter(settings):
    settings.INTAKE_LIMIT_PER_IP = "3/60"
    settings.INTAKE_LIMIT_GLOBAL = "100/60"
    check_flood(ip="192.0.2.1", now=NOON)
    UsedChallenge.objects.create(nonce="a" * 32, expires_at=NOON + timedelta(minutes=5))
    UsedChallenge.objects.create(nonce="b" * 32, expires_at=NOON + timedelta(minutes=30))

    with time_machine.travel(NOON + timedelta(minutes=10), tick=False):
        result = prune_intake_counters.enqueue()

    assert result.return_value == 3  # two counters (ip, global) and one challenge
    assert not FloodCounter.objects.exists()
    assert list(UsedChallenge.objects.values_list("nonce", flat=True)) == ["b" * 32]
    assert str(UsedChallenge.objects.get()).startswith("challenge bbbbbbbbbbbb (until ")
