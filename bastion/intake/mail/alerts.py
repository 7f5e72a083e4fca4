"""Telling staff about a mail flood: one mail per flood, not one per message."""

from __future__ import annotations

from django.conf import settings

from bastion.accounts.models import User
from bastion.audit.events import Event
from bastion.audit.services import Target, record
from bastion.intake.flood import Scope, limit_for
from bastion.lib.emails import render_email
from bastion.worker.queue import retryable


@retryable(max_attempts=5)
def email_mail_flood_alert(scope: str) -> None:
    """Mail the active admins that mail in ``scope`` went over its limit and is being held.

    Enqueued once per scope and window, by the first message over the limit. A retry after a
    partial send may mail someone twice; an alert lost to a crash would be worse.
    """
    flood_scope = Scope(scope)
    recipients = list(User.objects.active_admins().values_list("email", flat=True))
    if not recipients:
        return
    context = {
        "scope": "one sender" if flood_scope == Scope.MAIL_SENDER else "all senders together",
        "limit": limit_for(flood_scope),
        "queue_url": f"{settings.BASE_URL}/mailbox/",
    }
    render_email("mail_flood_alert", context, to=recipients).send()
    data = {"scope": scope, "recipients": len(recipients)}
    record(
        event=Event.MAIL_FLOOD_ALERTED, actor=None, target=Target(type="intake.flood", id=scope), data=data
    )
