"""The staff API's report list and content search: the inbox's own filters and keyset pages.

Filtering and paging are the inbox's (:func:`bastion.triage.filters.filter_reports`, then
:meth:`FilterResult.page`), so the API and the page can never disagree about what a filter means.
A page is found by a range on an index from a position (the cursor): no COUNT and no OFFSET, so a
page deep in a million reports costs what the first one does. The API calls the inbox's ``after``
parameter ``cursor`` and offers only "next"; ``after`` and ``before`` themselves are refused, so
the API has one way to page.

Searching inside reports (``text``) is a POST, as in the inbox: the words searched for are report
text more often than not (a phrase pasted to find its twin), and a query string lands in access
logs, proxies and shell histories. The list refuses ``text`` and never writes it into a ``next``
URL; the search answers with a cursor only, to be sent back in the next POST's body.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import QueryDict

from bastion.accounts.models import User
from bastion.triage.api_schemas import ReportSearch, row_of
from bastion.triage.filters import filter_reports

# The API's name for a parameter → the inbox's (errors go back under the API's name).
RENAMED = {"cursor": "after"}
INBOX_ONLY = ("after", "before")
# Never copied into a next URL, whatever the caller sent.
NOT_IN_URLS = ("cursor", "text")


class FilterRefused(Exception):
    """Bad filters or paging (HTTP 400): ``errors`` maps each bad parameter to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        self.detail = "Bad filters: " + "; ".join(f"{name}: {' '.join(m)}" for name, m in errors.items())
        super().__init__(self.detail)


def report_page(user: User, params: QueryDict, *, path: str, ip: str | None = None) -> dict[str, Any]:
    """One page of the reports ``user`` may see, filtered by ``params``, as a ReportPage body.

    Newest first; with a clock filter, soonest due first (as in the inbox). ``text`` is refused
    (FilterRefused): it belongs in the body of a POST to ``<path>/search``.
    """
    refused = {
        name: [f"Use cursor (the next_cursor of the previous page) to page; {name} is the inbox's own."]
        for name in INBOX_ONLY
        if name in params
    }
    if "text" in params:
        refused["text"] = [
            "Searching inside reports is not done in a URL, where the words would be logged: "
            f"POST the filters and text as JSON to {path}/search."
        ]
    if refused:
        raise FilterRefused(refused)
    items, cursor = _page(user, params, ip=ip)
    next_url = None
    if cursor:
        kept = [(name, value) for name in params if name not in NOT_IN_URLS for value in params.getlist(name)]
        next_url = f"{settings.BASE_URL}{path}?{urlencode([*kept, ('cursor', cursor)])}"
    return {"items": items, "next": next_url, "next_cursor": cursor}


def search_page(user: User, search: ReportSearch, *, ip: str | None = None) -> dict[str, Any]:
    """One page of the reports ``user`` may see that match ``search``, as a ReportSearchPage body.

    The content search opens the candidates the filters select (at most CONTENT_SEARCH_MAX, else
    FilterRefused on ``text``) and is audited by the inbox's code as REPORTS_SEARCHED, without the
    words. Each page searches again; the cursor keeps the place.
    """
    params = QueryDict(mutable=True)
    for name in search.model_fields_set:
        value = getattr(search, name)
        if value is None:
            continue
        params.setlist(name, [str(v) for v in value] if isinstance(value, list) else [str(value)])
    if not search.text.strip():
        raise FilterRefused({"text": ["Give the words to search for."]})
    items, cursor = _page(user, params, ip=ip)
    return {"items": items, "next_cursor": cursor}


def _page(user: User, params: QueryDict, *, ip: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The rows of one page for the API's ``params``, and the cursor of the next (None: last page)."""
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
        return [row_of(report) for report in reports], None
    page = result.page()
    return [row_of(report) for report in page], page.older
