"""Which advisories a staff member may load: every advisory view fetches its row through these first.

An advisory is as secret as the reports it is about until it is published: a staff member sees it
only if they may see every one of its reports (:mod:`bastion.reports.access`, where a running
embargo narrows who may). Anything else is a 404, so the answer does not confirm it exists.
"""

from __future__ import annotations

from django.http import Http404

from bastion.accounts.permissions import AnyUser, is_triager
from bastion.disclosure.models import Advisory
from bastion.disclosure.models.advisory import AdvisoryQuerySet
from bastion.disclosure.services.advisories._base import hidden_reports
from bastion.reports.models import Report

MAX_IDENTIFIER = 40  # Advisory.identifier


def advisories_for(user: AnyUser) -> AdvisoryQuerySet:
    """The advisories ``user`` may see: those whose every report they may see (none for non-triagers)."""
    if not is_triager(user):
        return Advisory.objects.none()
    # exclude() over a many-to-many drops an advisory if *any* of its reports is hidden.
    return Advisory.objects.exclude(reports__in=hidden_reports(user))


def advisory_for(user: AnyUser, identifier: str) -> Advisory:
    """The advisory ``identifier`` if ``user`` may see it; Http404 otherwise."""
    if not identifier or len(identifier) > MAX_IDENTIFIER or "\x00" in identifier:
        raise Http404("No such advisory.")
    found = (
        advisories_for(user)
        .select_related("data_key", "created_by", "updated_by", "approved_by", "submitted_by", "override_by")
        .filter(identifier=identifier)
        .first()
    )
    if found is None:
        raise Http404("No such advisory.")
    return found


def advisories_of_report(user: AnyUser, report: Report) -> AdvisoryQuerySet:
    """The advisories about ``report`` that ``user`` may see, newest first."""
    return advisories_for(user).filter(reports=report).order_by("-created_at", "-id")
