"""Canned responses: the team's wording for each move, and the services that keep it.

The text is the team's, not a reporter's, so it is stored in clear. ``{tracking_id}`` in a body is
filled in when the status form is drawn; nothing else is substituted, so a body can hold braces.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from bastion.accounts.models import User
from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.reports.workflow import Status
from bastion.triage.models import CannedResponse


def fill(body: str, *, tracking_id: str) -> str:
    """``body`` with ``{tracking_id}`` replaced (plain replace: other braces stay as written)."""
    return body.replace("{tracking_id}", tracking_id)


def responses_for(moves: Iterable[Status], *, tracking_id: str) -> dict[str, list[dict[str, object]]]:
    """The canned responses for each of ``moves``, default first, filled in for the report."""
    grouped: dict[str, list[dict[str, object]]] = defaultdict(list)
    wanted = [move.value for move in moves]
    for canned in CannedResponse.objects.filter(status__in=wanted):
        body = fill(canned.body, tracking_id=tracking_id)
        grouped[canned.status].append({"id": canned.pk, "title": canned.title, "body": body})
    return {status: grouped.get(status, []) for status in wanted}


def default_message(status: Status | str, *, tracking_id: str) -> str:
    """The default canned response for ``status``, filled in; "" when the team has none."""
    canned = CannedResponse.objects.filter(status=Status(status), is_default=True).first()
    return fill(canned.body, tracking_id=tracking_id) if canned else ""


def save_canned_response(*, canned: CannedResponse, actor: ActorArg) -> CannedResponse:
    """Create or update ``canned`` (already validated by its form); the default is moved to it if marked.

    At most one default per status (a partial unique index): marking this one clears the other
    first, in the same transaction.
    """
    with transaction.atomic():
        if canned.is_default:
            others = CannedResponse.objects.filter(status=canned.status, is_default=True)
            if canned.pk:
                others = others.exclude(pk=canned.pk)
            others.update(is_default=False)
        canned.updated_at = timezone.now()
        canned.updated_by = actor if isinstance(actor, User) else None
        canned.save()
        data = {"status": canned.status, "default": canned.is_default}
        record(event=Event.CANNED_RESPONSE_SAVED, actor=actor, target=canned, data=data)
    return canned


def delete_canned_response(*, canned: CannedResponse, actor: ActorArg) -> None:
    """Remove ``canned``; the status form then starts from an empty message for that status."""
    with transaction.atomic():
        record(
            event=Event.CANNED_RESPONSE_DELETED, actor=actor, target=canned, data={"status": canned.status}
        )
        canned.delete()
