"""Scheduled publication: every minute, publish the advisories whose planned instant has come.

Never before: an advisory is due only once ``publish_at <= now``, and the checklist refuses while
an embargo on its reports is running (``ends_at > now``), so the embargo instant itself is the
earliest moment. Two workers ticking at once publish once: publication is claimed by a
conditional UPDATE (see :mod:`bastion.disclosure.services.advisories.publishing`).

When the checklist fails at that moment nothing is published; the block is recorded
(ADVISORY_PUBLISH_BLOCKED) and mailed to the advisory's author and the admins once per planned
instant, claimed by a conditional UPDATE of ``blocked_publish_at`` like the publication itself.
The advisory is published at a later tick as soon as every item holds.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from bastion.accounts.models import Role, User
from bastion.audit.events import Event
from bastion.audit.services import record
from bastion.disclosure.models import Advisory
from bastion.disclosure.services.advisories import (
    AdvisoryRejected,
    Checklist,
    PublicationBlocked,
    may_see_advisory,
    prepublish_checklist,
    publish_advisory,
)
from bastion.lib.emails import render_email
from bastion.lib.when import as_read_in
from bastion.reports.access import granted_staff
from bastion.worker.queue import enqueue_on_commit, retryable
from bastion.worker.scheduler import periodic

logger = logging.getLogger(__name__)


@periodic(every=timedelta(seconds=60))
@task()
def publish_due_advisories() -> int:
    """Publish every advisory whose planned instant has come and whose checklist holds; how many."""
    now = timezone.now()
    # Read whole before writing (SQLite gives a cursor still being read no isolation from writes).
    due = list(Advisory.objects.due_for_publication(now).select_related("data_key", "created_by"))
    published = 0
    for advisory in due:
        checklist = prepublish_checklist(advisory, now=now)
        if not checklist.ok:
            announce_block(advisory, checklist)
            continue
        try:
            publish_advisory(advisory=advisory, actor=None, now=now)
        except PublicationBlocked as blocked:
            announce_block(advisory, blocked.checklist, audited=True)
        except AdvisoryRejected:
            continue  # another worker, or a person, published or changed it a moment ago
        else:
            published += 1
    return published


def announce_block(advisory: Advisory, checklist: Checklist, *, audited: bool = False) -> bool:
    """Record and mail a blocked publication, once per planned instant; whether this call did.

    ``audited``: the publication service already wrote the ADVISORY_PUBLISH_BLOCKED row.
    """
    with transaction.atomic():
        claimed = (
            Advisory.objects.filter(pk=advisory.pk, published_at__isnull=True)
            .exclude(blocked_publish_at=advisory.publish_at)
            .update(blocked_publish_at=advisory.publish_at)
        )
        if not claimed:
            return False
        if not audited:
            data = {
                "failing": [item.key for item in checklist.failing],
                "publish_at": advisory.publish_at.isoformat() if advisory.publish_at else None,
            }
            record(event=Event.ADVISORY_PUBLISH_BLOCKED, actor=None, target=advisory, data=data)
        for user in block_recipients(advisory):
            enqueue_on_commit(email_publish_blocked, advisory.pk, user.pk)
    logger.warning("Advisory %s not published: the pre-publish checklist failed", advisory.identifier)
    return True


def block_recipients(advisory: Advisory) -> list[User]:
    """Who hears of a blocked publication: the advisory's author, if still active, and every active admin.

    Only those who may see all its reports: the checklist names embargoed reports and their end,
    which nobody outside the embargo may learn. With none left, its reports' granted staff hear.
    """
    admins = list(User.objects.filter(role=Role.ADMIN, is_active=True).order_by("email"))
    author = advisory.created_by
    people = [
        user for user in ([author] if author.is_active else []) + admins if may_see_advisory(user, advisory)
    ]
    if not people:
        people = [user for report in advisory.reports.all() for user in granted_staff(report)]
    return list({user.pk: user for user in people}.values())


@retryable(max_attempts=5)
def email_publish_blocked(advisory_id: int, user_id: int) -> None:
    """Mail ``user`` what blocks ``advisory``'s publication now: each failing item and what to do.

    The checklist is judged again at sending time: if it holds by then (someone fixed it), there
    is nothing to say. The mail names the items and the advisory's page, never its content.
    """
    advisory = (
        Advisory.objects.select_related("data_key").filter(pk=advisory_id, published_at__isnull=True).first()
    )
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if advisory is None or user is None or advisory.publish_at is None:
        return
    if not may_see_advisory(user, advisory):
        return  # their access ended since the mail was queued
    checklist = prepublish_checklist(advisory, now=timezone.now())
    if checklist.ok:
        return
    context = {
        "identifier": advisory.identifier,
        "planned": as_read_in(advisory.publish_at, user.time_zone),
        "failing": checklist.failing,
        "advisory_url": settings.BASE_URL + reverse("disclosure_staff:advisory", args=[advisory.identifier]),
    }
    render_email("advisory_publish_blocked", context, to=[user.email]).send()
