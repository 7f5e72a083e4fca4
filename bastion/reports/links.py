"""A report's portal link, rebuilt from its uid and nonce whenever it is needed (never stored)."""

from __future__ import annotations

from django.conf import settings

from bastion.reports import identifiers
from bastion.reports.models import Report


def portal_token(report: Report) -> str:
    """The secret part of ``report``'s portal link."""
    return identifiers.portal_token_for(report.uid, report.portal_nonce)


def portal_url(report: Report) -> str:
    """The reporter's private link: ``BASE_URL/portal/<tracking id>/<token>/`` (served by the portal app)."""
    return f"{settings.BASE_URL}/portal/{report.tracking_id}/{portal_token(report)}/"
