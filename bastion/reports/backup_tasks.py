"""The worker's side of backups: the daily backup and restore drill, and the alert when they lapse.

The daily job takes a backup, drills the newest archive, then retires master-key versions no
kept archive needs any more (see :mod:`bastion.vault.keyring`). Each step records its own result
in the catalogue and the audit trail; this module adds the alert to the admins.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django_tasks import task

from bastion.accounts.models import User
from bastion.audit.services import Actor
from bastion.lib.emails import render_email
from bastion.reports.services.backups import (
    backup_health,
    retire_unneeded_master_keys,
    run_backup,
    run_restore_drill,
)
from bastion.worker.queue import enqueue_on_commit, retryable
from bastion.worker.scheduler import periodic

logger = logging.getLogger(__name__)

BACKUP_EVERY = timedelta(hours=24)
# While backups are stale, admins hear about it this often: loud enough to act on, not a flood.
HEALTH_CHECK_EVERY = timedelta(hours=6)


@periodic(every=BACKUP_EVERY)
@task()
def daily_backup() -> None:
    """Back up, drill the newest archive, retire unneeded master-key versions; alert on any failure.

    Without a configured destination there is nothing to do; the health check says so to admins.
    Idempotent enough for a retry: a second run makes a second archive, which pruning thins out.
    """
    if not settings.BACKUP_DESTINATIONS:
        return
    # Each step on its own: one that breaks must not keep the others from running, nor the alert.
    # Only the exception's class is logged: a message might quote data.
    trouble = False
    try:
        trouble = bool(run_backup(actor=Actor.system()).failed)
    except Exception as error:
        logger.error("The daily backup failed: %s", type(error).__name__)
        trouble = True
    try:
        trouble = not run_restore_drill(actor=Actor.system()).ok or trouble
    except Exception as error:
        logger.error("The restore drill could not run: %s", type(error).__name__)
        trouble = True
    try:
        retire_unneeded_master_keys(actor=Actor.system())
    except Exception as error:
        logger.error("Retiring unneeded master keys failed: %s", type(error).__name__)
    if trouble:
        enqueue_on_commit(email_backup_alert)


@periodic(every=HEALTH_CHECK_EVERY)
@task()
def check_backup_health() -> None:
    """Alert the admins when no verified backup is recent enough, or the last run or drill failed."""
    if not settings.BACKUP_DESTINATIONS:
        return
    if backup_health().problems:
        email_backup_alert.enqueue()


@retryable(max_attempts=5)
def email_backup_alert() -> None:
    """Mail the active admins what is wrong with the backups now (names and states, never content).

    It reads the problems when it runs rather than taking them as arguments (tasks take ids), so
    an alert retried after the trouble cleared says nothing at all.
    """
    problems = backup_health().problems
    if not problems:
        return
    recipients = list(User.objects.active_admins().values_list("email", flat=True))
    if not recipients:
        logger.warning("Backups need attention, and there is no active admin to tell: %s", problems)
        return
    context = {
        "problems": problems,
        "vault_url": f"{settings.BASE_URL}/triage/vault/",
        "every_hours": int(HEALTH_CHECK_EVERY.total_seconds() // 3600),
    }
    render_email("backup_alert", context, to=recipients).send()
