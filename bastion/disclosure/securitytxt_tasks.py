"""The daily security.txt job: renew it before it expires, and warn the admins when it cannot be.

Registered by importing this module from ``bastion/disclosure/tasks.py`` (the worker imports every
app's ``tasks`` module before it ticks). The job takes no arguments and is idempotent: a second run
the same day signs nothing new and claims no alert twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django_tasks import task

from bastion.accounts.models import User
from bastion.audit.services import Actor
from bastion.disclosure.models import SecurityTxt
from bastion.disclosure.services.securitytxt import (
    DOCUMENT_EXPIRES,
    KEY_EXPIRES,
    SecurityTxtUnsignable,
    claim_alerts,
    current_security_txt,
    ensure_security_txt,
)
from bastion.lib.emails import render_email
from bastion.worker.queue import enqueue_on_commit, retryable
from bastion.worker.scheduler import periodic

logger = logging.getLogger(__name__)

RENEWAL_EVERY = timedelta(hours=24)


@periodic(every=RENEWAL_EVERY)
@task()
def renew_security_txt() -> int:
    """Sign a new security.txt if one is due, then claim and mail any alert; how many alerts went out.

    A failure to sign is logged (its class only) and does not stop the alerts: they exist for
    exactly the case where signing is no longer possible.
    """
    try:
        ensure_security_txt(actor=Actor.system())
    except SecurityTxtUnsignable:
        logger.error("security.txt could not be renewed: the org key cannot sign any more")
    except Exception as error:  # the alerts below must still run
        logger.error("security.txt could not be renewed: %s", type(error).__name__)
    with transaction.atomic():
        alerts = claim_alerts(actor=Actor.system())
        crossed = {alert.what for alert in alerts}
        latest = current_security_txt()
        if crossed and latest is not None:
            enqueue_on_commit(
                email_security_txt_alert,
                latest.pk,
                document=DOCUMENT_EXPIRES in crossed,
                key=KEY_EXPIRES in crossed,
            )
    return len(alerts)


@retryable(max_attempts=5)
def email_security_txt_alert(document_id: int, *, document: bool, key: bool) -> None:
    """Mail the active admins which lapse is near (security.txt's Expires, the org key), and what to do.

    ``document_id`` is the security.txt whose thresholds were crossed; its dates are read when the
    task runs (tasks take ids, not content).
    """
    latest = SecurityTxt.objects.filter(pk=document_id).first()
    recipients = list(User.objects.active_admins().values_list("email", flat=True))
    if latest is None or not recipients:
        logger.warning("A security.txt alert is due, and there is no active admin (or document) to mail")
        return
    context = {
        "document_expires": latest.expires_at if document else None,
        "key_expires": latest.key_expires_at if key else None,
        "fingerprint": latest.key_fingerprint,
    }
    render_email("security_txt_alert", context, to=recipients).send()
