"""The custody jobs: retention rules (daily) and re-applying the shred ledger (every 10 minutes).

The ledger job exists for the restore nobody told Bastion about: an operator who restored an
archive by hand (``gpg --decrypt`` and the documented steps) gets every key shredded since that
archive destroyed again within minutes. It costs a read of the ledger and a few SELECTs when
there is nothing to do. Both jobs are idempotent, as periodic tasks must be.
"""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from bastion.audit.services import Actor
from bastion.worker.scheduler import periodic


@periodic(every=timedelta(days=1))
@task()
def apply_retention_rules() -> int:
    """Shred the reports past their retention rule, then tidy any left untidied; how many were shredded."""
    # Imported here: the services import reports.tasks, which imports this module.
    from bastion.reports.services.shredding import apply_retention, tidy_shredded

    shredded = apply_retention()
    tidy_shredded()
    return shredded


@periodic(every=timedelta(minutes=10))
@task()
def enforce_shred_ledger_task() -> int:
    """Destroy again every data key the shred ledger lists that is alive (after a restore); how many."""
    from bastion.reports.services.shredding import enforce_shred_ledger

    return enforce_shred_ledger(actor=Actor.system())
