"""The staff API's report list: the inbox's own filters and keyset pages, under API names.

Filtering and paging are the inbox's (:func:`bastion.triage.filters.filter_reports`, then
:meth:`FilterResult.page`), so the API and the page can never disagree about what a filter means.
A page is found by a range on an index from a position (the cursor): no COUNT and no OFFSET, so a
page deep in a million reports costs what the first one does. The API calls the inbox's ``after``
parameter ``cursor`` and offers only "next"; ``after`` and ``before`` themselves are refused, so
the API has one way to page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import QueryDict

from bastion.accounts.models import User
from bastion.triage.api_schemas import row_of
from bastion.triage.filters import filter_reports

# The API's name for a parameter → the inbox's (errors go back under the API's name).
RENAMED = {"cursor": "after"}
INBOX_ONLY = ("after", "before")


class FilterRefused(Exception):
    """Bad filters or paging (HTTP 400): ``errors`` maps each bad parameter to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        self.detail = "Bad filters: " + "; ".join(f"{name}: {' '.join(m)}" for name, m in errors.items())
        super().__init__(self.detail)


def report_page(user: User, params: QueryDict, *, path: str, ip: str | None = None) -> dict[str, Any]:
    """One page of the reports ``user`` may see, filtered by ``params``, as a ReportPage body.

    Newest first; with a clock filter, soonest due first (as in the inbox). A content search
    (``text``) opens the candidates and is audited by the inbox's code as REPORTS_SEARCHED.
    """
    refused = {
        name: [f"Use cursor (the next_cursor of the previous page) to page; {name} is the inbox's own."]
        for name in INBOX_ONLY
        if name in params
    }
    if refused:
        raise FilterRefused(refused)
    inbox = QueryDict(mutable=True)
    for name in params:
        inbox.setlist(RENAMED.get(name, name), params.getlist(name))
    result = filter_reports(user, inbox, ip=ip)
    if result.errors:
        back = {inbox_name: name for name, inbox_name in RENAMED.items()}
        raise FilterRefused(
            {back.get(name, name): list(messages) for name, messages in result.errors.items()}
        )
    if result.jump_to is not None:
        # An exact tracking ID in q: that one report (as the inbox jumps straight to it).
        assert result.rows is not None
        reports = list(result.rows.select_related("assignee", "asset").prefetch_related("labels"))
        return {"items": [row_of(report) for report in reports], "next": None, "next_cursor": None}
    page = result.page()
    cursor = page.older
    next_url = None
    if cursor:
        kept = [(name, value) for name in params if name != "cursor" for value in params.getlist(name)]
        next_url = f"{settings.BASE_URL}{path}?{urlencode([*kept, ('cursor', cursor)])}"
    return {"items": [row_of(report) for report in page], "next": next_url, "next_cursor": cursor}
